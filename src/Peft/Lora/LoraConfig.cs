using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Finetune.Peft.Lora;

/// <summary>
/// LoRA settings, named after Hugging Face PEFT's LoraConfig. A Linear at dotted path P is adapted when some target T
/// equals P or P ends with "." + T (so "query" matches every <c>attention.self.query</c> and "output.dense" matches both
/// <c>attention.output.dense</c> and the FFN <c>output.dense</c>), or when <see cref="TargetRegex"/> matches all of P.
/// </summary>
public sealed record LoraConfig : PeftConfig
{
    public override string PeftType => "LORA";

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

    /// <summary>DoRA: a learned per-output magnitude times the direction of W + scale·B·A.</summary>
    public bool UseDora { get; init; }

    /// <summary>BERT's attention projections and both feed-forward projections.</summary>
    public static IReadOnlyList<string> AllBertLinears { get; } = new[] { "query", "key", "value", "attention.output.dense",
        "intermediate.dense", "output.dense" };

    public float Scale => UseRsLora ? Alpha / MathF.Sqrt(Rank) : Alpha / Rank;

    public override void Validate()
    {
        if (Rank <= 0) throw new ArgumentOutOfRangeException(nameof(Rank), Rank, "lora: rank must be positive");
        if (!(Alpha > 0)) throw new ArgumentOutOfRangeException(nameof(Alpha), Alpha, "lora: alpha must be positive");
        if (!(Dropout >= 0 && Dropout < 1))
            throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, "lora: dropout must be in [0, 1)");
        if (TargetModules.Count == 0 && TargetRegex is null) throw new ArgumentException("lora: no target modules given");
    }

    public bool IsTarget(string path) =>
        Targets.Matches(path, TargetModules) || (TargetRegex is not null && Regex.IsMatch(path, $"^(?:{TargetRegex})$"));

    /// <summary>PEFT's adapter_config.json fields.</summary>
    public override string ToJson() => new JsonObject
    {
        ["peft_type"] = "LORA",
        ["r"] = Rank,
        ["lora_alpha"] = Alpha,
        ["lora_dropout"] = Dropout,
        ["target_modules"] = new JsonArray(TargetModules.Select(t => (JsonNode)t).ToArray()),
        ["target_regex"] = TargetRegex,
        ["use_rslora"] = UseRsLora,
        ["use_dora"] = UseDora,
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
            T Read<T>(string key, Func<JsonNode, T> read, T fallback)
            {
                var n = o[key];
                if (n is null) return fallback;
                try
                {
                    return read(n);
                }
                catch (Exception e) when (e is InvalidOperationException or FormatException)
                {
                    throw new InvalidDataException($"field '{key}' has the wrong type: {n.ToJsonString()}", e);
                }
            }
            static string[] Strings(JsonNode n) => n.AsArray().Select(x => x!.GetValue<string>()).ToArray();
            var c = d with
            {
                Rank = Read("r", n => n.GetValue<int>(), d.Rank),
                Alpha = Read("lora_alpha", n => (float)n.GetValue<double>(), d.Alpha),
                Dropout = Read("lora_dropout", n => (float)n.GetValue<double>(), d.Dropout),
                TargetModules = Read<IReadOnlyList<string>>("target_modules", Strings, d.TargetModules),
                TargetRegex = Read<string?>("target_regex", n => n.GetValue<string>(), null),
                UseRsLora = Read("use_rslora", n => n.GetValue<bool>(), false),
                UseDora = Read("use_dora", n => n.GetValue<bool>(), false),
                ModulesToSave = Read<IReadOnlyList<string>>("modules_to_save", Strings, d.ModulesToSave),
                Seed = Read("seed", n => n.GetValue<ulong>(), 0UL),
            };
            c.Validate();
            return c;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or ArgumentException
                                      or InvalidDataException)
        {
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }
    }
}
