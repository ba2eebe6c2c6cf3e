using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Finetune.Nn;
using Finetune.Nn.IO;

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

    /// <summary>
    /// Fused LoRA kernels (true, the default wherever the device has them) or the composed ops (false, <c>--unfused</c>). A
    /// runtime choice: not written to adapter_config.json, and both give the same numbers within float rounding.
    /// </summary>
    public bool Fused { get; init; } = true;

    /// <summary>BERT's attention projections and both feed-forward projections.</summary>
    public static IReadOnlyList<string> AllBertLinears { get; } = new[] { "query", "key", "value", "attention.output.dense",
        "intermediate.dense", "output.dense" };

    public float Scale => UseRsLora ? Alpha / MathF.Sqrt(Rank) : Alpha / Rank;

    public override void Validate()
    {
        if (Rank is <= 0 or > MaxRank) throw new ArgumentException($"lora: field 'r' is {Rank}, expected an integer in [1, {MaxRank}]");
        if (!(Alpha > 0 && float.IsFinite(Alpha)))
            throw new ArgumentException($"lora: field 'lora_alpha' is {Alpha}, expected a positive number");
        if (!(Dropout >= 0 && Dropout < 1))
            throw new ArgumentException($"lora: field 'lora_dropout' is {Dropout}, expected a number in [0, 1)");
        if (TargetModules.Count == 0 && TargetRegex is null)
            throw new ArgumentException("lora: field 'target_modules' is [], expected at least one name (or a target_regex)");
        CheckNames("target_modules", TargetModules);
    }

    public bool IsTarget(string path) => Targets.Matches(path, TargetModules) || (TargetRegex is not null && Regex.IsMatch(path,
        $"^(?:{TargetRegex})$"));

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

    public static LoraConfig FromJson(string json, string source = "adapter_config.json") => FromJson(JsonFields.Parse(json, source));

    /// <summary>PEFT's LoRA adapter_config.json; every error names the file, the field, its value and what was expected.</summary>
    public static LoraConfig FromJson(JsonFields f)
    {
        if (f.String("peft_type", optional: true) is { } type && type != "LORA")
            throw f.Error("peft_type", f.Object["peft_type"], "'LORA'");
        var d = new LoraConfig();
        var c = d with
        {
            Rank = f.Int("r", 1, MaxRank, d.Rank),
            Alpha = f.Float("lora_alpha", 0, 1e6f, d.Alpha, minExclusive: true),
            Dropout = f.Float("lora_dropout", 0, 0.999f, d.Dropout),
            TargetModules = f.Strings("target_modules", d.TargetModules),
            TargetRegex = f.String("target_regex", optional: true),
            UseRsLora = f.Bool("use_rslora", false),
            UseDora = f.Bool("use_dora", false),
            ModulesToSave = f.Strings("modules_to_save", d.ModulesToSave),
            Seed = f.ULong("seed", 0UL),
        };
        if (c.TargetRegex is { } regex)
        {
            try
            {
                _ = new Regex(regex, RegexOptions.None, TimeSpan.FromSeconds(1));
            }
            catch (ArgumentException)
            {
                throw f.Error("target_regex", f.Object["target_regex"], "a valid regular expression");
            }
        }
        try
        {
            c.Validate();
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{f.Source}: {ErrorText.OneLine(e)}", e);
        }
        return c;
    }

    /// <summary>A bound far above any useful rank; the real bound is the adapted layer's size, checked at injection.</summary>
    public const int MaxRank = 65_536;
}
