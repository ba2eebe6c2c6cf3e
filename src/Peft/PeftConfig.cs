using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Finetune.Peft;

/// <summary>
/// What every method's config shares: plain data, serialised as PEFT's <c>adapter_config.json</c> with a
/// <c>peft_type</c> tag that the registry uses to find the method again.
/// </summary>
public abstract record PeftConfig
{
    /// <summary>Modules kept fully trainable (e.g. a new "classifier" head), matched like targets; a Linear gets its own copy per
    /// adapter.</summary>
    public IReadOnlyList<string> ModulesToSave { get; init; } = Array.Empty<string>();

    /// <summary>Seed of the adapter's initialisation and its dropout masks.</summary>
    public ulong Seed { get; init; }

    /// <summary>The tag in adapter_config.json ("LORA", "PREFIX_TUNING", ...).</summary>
    [JsonIgnore]
    public abstract string PeftType { get; }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first field out of range.</summary>
    public abstract void Validate();

    /// <summary>adapter_config.json text. The default writes every property in snake_case after the tag.</summary>
    public virtual string ToJson()
    {
        var body = JsonSerializer.SerializeToNode(this, GetType(), JsonOptions)!.AsObject();
        var o = new JsonObject { ["peft_type"] = PeftType };
        foreach (var (key, value) in body.ToList())
        {
            body.Remove(key);
            o[key] = value;
        }
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        WriteIndented = true,
    };

    /// <summary>Reads a config written by the default <see cref="ToJson"/>; errors name the file and the field.</summary>
    internal static T FromJson<T>(JsonObject o, string source) where T : PeftConfig
    {
        var body = o.DeepClone().AsObject();
        body.Remove("peft_type");
        T config;
        try
        {
            config = body.Deserialize<T>(JsonOptions) ?? throw new InvalidDataException($"{source}: empty config");
        }
        catch (JsonException e)
        {
            // System.Text.Json names the offending member in Path ("$.reduction_factor") or in the message (unknown fields).
            throw new InvalidDataException($"{source}: field {(e.Path is { Length: > 2 } p ? $"'{p[2..]}'" : "?")}: {e.Message}", e);
        }
        try
        {
            config.Validate();
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }
        return config;
    }
}
