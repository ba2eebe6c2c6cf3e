using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Finetune.Peft.Lora;

/// <summary>
/// LoRA settings, named after Hugging Face PEFT's LoraConfig. A Linear at dotted path P is adapted when some target T
/// equals P or P ends with "." + T (so "query" matches every <c>attention.self.query</c> and "output.dense" matches both
/// <c>attention.output.dense</c> and the FFN <c>output.dense</c>), or when <see cref="TargetRegex"/> matches all of P.
/// </summary>
public sealed record LoraConfig
{
    /// <summary>Rank r of the update B·A.</summary>
    public int Rank { get; init; } = 8;

    /// <summary>The update is scaled by Alpha / r (Alpha / √r with <see cref="UseRsLora"/>).</summary>
    public float Alpha { get; init; } = 8f;

    /// <summary>Dropout on the input of the LoRA path only.</summary>
    public float Dropout { get; init; }

    public IReadOnlyList<string> TargetModules { get; init; } = new[] { "query", "value" };

    /// <summary>A regular expression over the full dotted path, used in addition to <see cref="TargetModules"/>.</summary>
    public string? TargetRegex { get; init; }

    /// <summary>Rank-stabilised scaling Alpha / √r.</summary>
    public bool UseRsLora { get; init; }

    /// <summary>Modules kept fully trainable (e.g. a new "classifier" head), matched like targets.</summary>
    public IReadOnlyList<string> ModulesToSave { get; init; } = Array.Empty<string>();

    /// <summary>Seed of the A init and of the LoRA dropout masks.</summary>
    public ulong Seed { get; init; }

    /// <summary>BERT's attention projections and both feed-forward projections.</summary>
    public static IReadOnlyList<string> AllBertLinears { get; } = new[] { "query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense" };

    public float Scale => UseRsLora ? Alpha / MathF.Sqrt(Rank) : Alpha / Rank;

    public void Validate()
    {
        if (Rank <= 0) throw new ArgumentOutOfRangeException(nameof(Rank), Rank, "lora: rank must be positive");
        if (!(Alpha > 0)) throw new ArgumentOutOfRangeException(nameof(Alpha), Alpha, "lora: alpha must be positive");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, "lora: dropout must be in [0, 1)");
        if (TargetModules.Count == 0 && TargetRegex is null) throw new ArgumentException("lora: no target modules given");
    }

    public bool IsTarget(string path) => Matches(path, TargetModules) || (TargetRegex is not null && Regex.IsMatch(path, $"^(?:{TargetRegex})$"));

    internal static bool Matches(string path, IReadOnlyList<string> names) =>
        names.Any(t => path == t || path.EndsWith("." + t, StringComparison.Ordinal));

    /// <summary>PEFT's adapter_config.json fields.</summary>
    public string ToJson() => new JsonObject
    {
        ["peft_type"] = "LORA",
        ["r"] = Rank,
        ["lora_alpha"] = Alpha,
        ["lora_dropout"] = Dropout,
        ["target_modules"] = new JsonArray(TargetModules.Select(t => (JsonNode)t).ToArray()),
        ["target_regex"] = TargetRegex,
        ["use_rslora"] = UseRsLora,
        ["modules_to_save"] = new JsonArray(ModulesToSave.Select(t => (JsonNode)t).ToArray()),
        ["bias"] = "none",
        ["seed"] = Seed,
    }.ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    public static LoraConfig FromJson(string json, string source = "adapter_config.json")
    {
        try
        {
            var o = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException($"{source}: the top level is not a JSON object");
            if (o["peft_type"]?.GetValue<string>() is { } type && type != "LORA")
                throw new InvalidDataException($"{source}: field 'peft_type' is '{type}', expected 'LORA'");
            var d = new LoraConfig();
            var c = d with
            {
                Rank = o["r"]?.GetValue<int>() ?? d.Rank,
                Alpha = (float)(o["lora_alpha"]?.GetValue<double>() ?? d.Alpha),
                Dropout = (float)(o["lora_dropout"]?.GetValue<double>() ?? d.Dropout),
                TargetModules = (o["target_modules"] as JsonArray)?.Select(n => n!.GetValue<string>()).ToArray() ?? d.TargetModules,
                TargetRegex = o["target_regex"]?.GetValue<string>(),
                UseRsLora = o["use_rslora"]?.GetValue<bool>() ?? false,
                ModulesToSave = (o["modules_to_save"] as JsonArray)?.Select(n => n!.GetValue<string>()).ToArray() ?? d.ModulesToSave,
                Seed = o["seed"]?.GetValue<ulong>() ?? 0,
            };
            c.Validate();
            return c;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or ArgumentException)
        {
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }
    }
}
