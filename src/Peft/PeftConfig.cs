using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Finetune.Nn;
using Finetune.Nn.IO;

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

    /// <summary>Throws when a list of module names holds a null or an empty name.</summary>
    public static void CheckNames(string field, IReadOnlyList<string>? names)
    {
        if (names is null) throw new ArgumentException($"peft: field '{field}' is null, expected a list of module names");
        for (int i = 0; i < names.Count; i++)
            if (string.IsNullOrEmpty(names[i]))
                throw new ArgumentException(
                    $"peft: field '{field}[{i}]' is {(names[i] is null ? "null" : "\"\"")}, expected a module name");
    }

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

    /// <summary>Reads a config written by the default <see cref="ToJson"/>; errors name the file, the field and the value.</summary>
    internal static T FromJson<T>(JsonFields fields) where T : PeftConfig
    {
        string source = fields.Source;
        var body = fields.Object.DeepClone().AsObject();
        body.Remove("peft_type");
        // A null field means "not given" (its default), never a null list that the injection would dereference.
        foreach (var key in body.Where(kv => kv.Value is null).Select(kv => kv.Key).ToList()) body.Remove(key);
        RejectNullItems(fields, body, "");
        T config;
        try
        {
            config = body.Deserialize<T>(JsonOptions) ?? throw new InvalidDataException($"{source}: empty config");
        }
        catch (JsonException e)
        {
            // System.Text.Json names the offending member in Path ("$.reduction_factor") or in the message (unknown fields).
            var field = e.Path is { Length: > 2 } p ? p[2..] : "?";
            var value = JsonFields.Show(FieldValue(body, field));
            throw new InvalidDataException($"{source}: field '{JsonFields.Printable(field)}' is {value}, expected {Expected(e)}", e);
        }
        try
        {
            config.Validate();
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{source}: {ErrorText.OneLine(e)}", e);
        }
        return config;
    }

    private static JsonNode? FieldValue(JsonObject body, string field) =>
        body[field.Split('.', '[')[0]] is { } n ? n : null;

    private static string Expected(JsonException e)
    {
        var m = ErrorText.OneLine(e);
        int cut = m.IndexOf(" Path:", StringComparison.Ordinal);
        return "a valid value (" + (cut > 0 ? m[..cut] : m).TrimEnd('.') + ")";
    }

    /// <summary>A null inside a list ("target_modules": ["query", null]) would reach the injection as a null name.</summary>
    private static void RejectNullItems(JsonFields fields, JsonNode? node, string path)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (k, v) in o) RejectNullItems(fields, v, path.Length == 0 ? k : path + "." + k);
                break;
            case JsonArray a:
                for (int i = 0; i < a.Count; i++)
                {
                    if (a[i] is null) throw fields.Error($"{path}[{i}]", null, "a value (lists may not hold null)");
                    RejectNullItems(fields, a[i], $"{path}[{i}]");
                }
                break;
        }
    }
}
