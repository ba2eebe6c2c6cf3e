using System.Text.Json;
using System.Text.Json.Serialization;
using Finetune.Nn;
using Finetune.Nn.Data;
using Finetune.Nn.IO;
using Finetune.Peft.Adapters;
using Finetune.Peft.Full;
using Finetune.Peft.Lora;
using Finetune.Peft.Prefix;
using Finetune.Peft.Prompts;

using Finetune.Peft;

namespace Finetune.App;

/// <summary>
/// A registry preset by name and the settings a command line may override; serialised beside saved weights so a run
/// can be rebuilt. Null settings keep the preset's values.
/// </summary>
public sealed record FineTuneOptions
{
    /// <summary>A <see cref="PeftRegistry.Presets"/> name: full, lora, linear-probe, prefix, houlsby, ...</summary>
    public string Method { get; init; } = "lora";
    public int? Rank { get; init; }
    public float? Alpha { get; init; }
    public float? LoraDropout { get; init; }
    public IReadOnlyList<string>? Targets { get; init; }
    public int? FreezeLayers { get; init; }
    public bool FreezeEmbeddings { get; init; }
    public int? VirtualTokens { get; init; }
    public int? ReductionFactor { get; init; }

    /// <summary>Run LoRA, adapters and the encoder's GEMM epilogues composed instead of with the fused kernels (<c>--unfused</c>): the
    /// same model with one switch flipped.</summary>
    public bool Unfused { get; init; }

    /// <summary>Run self-attention as the composed ops (<c>--unfused-attention</c>): Q·Kᵀ, masked softmax, dropout and ·V with the
    /// [B, heads, T, T] tensors, instead of the fused kernel; a runtime choice like <see cref="Unfused"/>.</summary>
    public bool UnfusedAttention { get; init; }

    /// <summary>Prompt tuning on BERT: start the virtual tokens from the word embeddings of this text (PEFT's TEXT init).</summary>
    public string? PromptInitText { get; init; }
    public PoolingMode Pooling { get; init; } = PoolingMode.Mean;
    public int Labels { get; init; } = 2;
    public ulong Seed { get; init; } = 42;

    /// <summary>The class names by id (Hugging Face's id2label) of a run on a user's dataset; null for IMDB and Fashion-MNIST.</summary>
    [JsonPropertyName("id2label")]
    public IReadOnlyDictionary<string, string>? Id2Label { get; init; }

    [JsonPropertyName("label2id")]
    public IReadOnlyDictionary<string, int>? Label2Id { get; init; }

    /// <summary>How the run read a user's dataset (columns, length); null for IMDB and Fashion-MNIST.</summary>
    public DatasetSettings? Data { get; init; }

    /// <summary>These options with a head of <paramref name="labels"/>' classes and their names.</summary>
    public FineTuneOptions WithLabels(LabelMap labels) =>
        this with { Labels = labels.Count, Id2Label = labels.Id2Label(), Label2Id = labels.Label2Id() };

    /// <summary>The class names, checked against <see cref="Labels"/> and <see cref="Label2Id"/>; null when the run has none.</summary>
    public LabelMap? Classes(string source)
    {
        if (Id2Label is null) return null;
        var map = LabelMap.FromId2Label(Id2Label, source);
        if (map.Count != Labels) throw new InvalidDataException($"{source}: id2label names {map.Count} classes but Labels is {Labels}");
        if (Label2Id is not null && (Label2Id.Count != map.Count || map.Names.Where((n, i) => Label2Id.GetValueOrDefault(n,
            -1) != i).Any()))
            throw new InvalidDataException($"{source}: label2id is not the inverse of id2label");
        return map;
    }
    /// <summary>
    /// The Hugging Face model folder the run starts from (BERT, MiniLM, DistilBERT: <c>--model DIR</c>); null: the packaged
    /// all-MiniLM-L6-v2.
    /// </summary>
    public string? BaseModel { get; init; }
    /// <summary>
    /// Where the prepared classifier lives (built on the CPU, then moved). Not saved with the run: a saved run reloads
    /// onto whatever device the loading side asks for.
    /// </summary>
    [JsonIgnore]
    public Kernels.Device Device { get; init; } = Kernels.Device.Cpu;

    [JsonIgnore]
    public PeftPreset Preset => PeftRegistry.Preset(Method);

    /// <summary>More classes than any classification head here needs; 1e8 would ask for 150 GB.</summary>
    public const int MaxLabels = 100_000;

    /// <summary>
    /// Checks every setting's range and that each one given applies to the method (a LoRA rank on IA3 is refused).
    /// Throws an <see cref="ArgumentException"/> naming the setting (and its command-line option) and the value.
    /// </summary>
    public void Validate()
    {
        var preset = Preset;
        var config = preset.Create(ModelFamily.Bert, BertConfig.MaxLayers);
        static void Range(string name, long? value, long min, long max)
        {
            if (value is { } v && (v < min || v > max))
                throw new ArgumentException($"{name} is {v}, expected an integer in [{min}, {max}]");
        }
        Range("Rank (--rank)", Rank, 1, LoraConfig.MaxRank);
        Range("FreezeLayers (--freeze-layers)", FreezeLayers, 0, BertConfig.MaxLayers);
        Range("VirtualTokens (--virtual-tokens)", VirtualTokens, 1, PromptTuningConfig.MaxVirtualTokens);
        Range("ReductionFactor (--reduction-factor)", ReductionFactor, 1, 65_536);
        Range("Labels", Labels, 2, MaxLabels);
        if (Alpha is { } a && !(a > 0 && float.IsFinite(a)))
            throw new ArgumentException($"Alpha (--alpha) is {a}, expected a positive number");
        if (LoraDropout is { } d && !(d >= 0 && d < 1)) throw new ArgumentException($"LoraDropout is {d}, expected a number in [0, 1)");
        if (Targets is not null) PeftConfig.CheckNames("Targets (--targets)", Targets);
        if (!Enum.IsDefined(Pooling))
            throw new ArgumentException($"Pooling is {(int)Pooling}, expected one of {string.Join(", ", Enum.GetNames<PoolingMode>())}");
        void Applies(bool given, string name, bool applies, string to)
        {
            if (given && !applies) throw new ArgumentException($"{name} does not apply to --method {preset.Name}; it applies to {to}");
        }
        const string lora = "lora, rslora and dora", full = "full and freeze-lower";
        Applies(Rank is not null, "--rank", config is LoraConfig, lora);
        Applies(Alpha is not null, "--alpha", config is LoraConfig, lora);
        Applies(LoraDropout is not null, "LoraDropout", config is LoraConfig, lora);
        Applies(Targets is not null, "--targets", config is LoraConfig, lora);
        Applies(FreezeLayers is not null, "--freeze-layers", config is FullFineTuningConfig, full);
        Applies(FreezeEmbeddings, "--freeze-embeddings", config is FullFineTuningConfig, full);
        Applies(VirtualTokens is not null, "--virtual-tokens", config is PromptTuningConfig or PrefixTuningConfig, "prompt, vpt-deep, " +
            "prefix and prefix-mlp");
        Applies(ReductionFactor is not null, "--reduction-factor", config is BottleneckConfig, "houlsby, pfeiffer and parallel");
        Applies(PromptInitText is not null, "PromptInitText", config is PromptTuningConfig, "prompt");
    }

    /// <summary>Reads finetune_run.json; every error names the file, the field, its value and what was expected.</summary>
    public static FineTuneOptions FromJson(JsonFields f)
    {
        f.RejectUnknown(nameof(Method), nameof(Rank), nameof(Alpha), nameof(LoraDropout), nameof(Targets), nameof(FreezeLayers),
            nameof(FreezeEmbeddings), nameof(Unfused), nameof(UnfusedAttention),
            nameof(VirtualTokens), nameof(ReductionFactor), nameof(PromptInitText), nameof(Pooling), nameof(Labels), nameof(Seed),
            "id2label", "label2id", nameof(Data), nameof(BaseModel));
        var method = f.String(nameof(Method))!;
        if (!PeftRegistry.Presets.Any(p => string.Equals(p.Name, method, StringComparison.OrdinalIgnoreCase)))
            throw f.Error(nameof(Method), f.Object[nameof(Method)], "one of " + string.Join(", ",
                PeftRegistry.Presets.Select(p => p.Name)));
        int? OptionalInt(string key, int min, int max) => f.Has(key) ? f.Int(key, min, max) : null;
        var options = new FineTuneOptions
        {
            Method = method,
            Rank = OptionalInt(nameof(Rank), 1, LoraConfig.MaxRank),
            Alpha = f.Has(nameof(Alpha)) ? f.Float(nameof(Alpha), 0, 1e6f, minExclusive: true) : null,
            LoraDropout = f.Has(nameof(LoraDropout)) ? f.Float(nameof(LoraDropout), 0, 0.999f) : null,
            Targets = f.Has(nameof(Targets)) ? f.Strings(nameof(Targets)) : null,
            FreezeLayers = OptionalInt(nameof(FreezeLayers), 0, BertConfig.MaxLayers),
            FreezeEmbeddings = f.Bool(nameof(FreezeEmbeddings), false),
            Unfused = f.Bool(nameof(Unfused), false),
            UnfusedAttention = f.Bool(nameof(UnfusedAttention), false),
            VirtualTokens = OptionalInt(nameof(VirtualTokens), 1, PromptTuningConfig.MaxVirtualTokens),
            ReductionFactor = OptionalInt(nameof(ReductionFactor), 1, 65_536),
            PromptInitText = f.String(nameof(PromptInitText), optional: true),
            Pooling = f.Enum<PoolingMode>(nameof(Pooling), PoolingMode.Mean),
            Labels = f.Int(nameof(Labels), 2, MaxLabels, 2),
            Seed = f.ULong(nameof(Seed), 42UL),
            Id2Label = f.Child("id2label", optional: true) is { } names
                ? names.Object.ToDictionary(kv => kv.Key, kv => names.String(kv.Key)!)
                : null,
            Label2Id = f.Child("label2id", optional: true) is { } ids
                ? ids.Object.ToDictionary(kv => kv.Key, kv => ids.Int(kv.Key, 0, MaxLabels - 1))
                : null,
            Data = f.Child(nameof(Data), optional: true) is { } data ? DatasetSettings.FromJson(data) : null,
            BaseModel = f.String(nameof(BaseModel), optional: true),
        };
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{f.Source}: {ErrorText.OneLine(e)}", e);
        }
        return options;
    }

    /// <summary>The preset's config for <paramref name="family"/> with this run's overrides.</summary>
    public PeftConfig ToConfig(ModelFamily family, int layers)
    {
        var preset = Preset;
        if (FreezeLayers > layers)
            throw new ArgumentException($"--freeze-layers is {FreezeLayers}, expected at most the model's {layers} layers");
        if (!preset.Families.Contains(family))
            throw new ArgumentException($"--method {preset.Name} does not apply to {family} models (it applies to "
                + $"{string.Join(", ", preset.Families)})");
        PeftConfig config = preset.Create(family, layers) switch
        {
            LoraConfig c =>
                c with { Rank = Rank ?? c.Rank, Alpha = Alpha ?? c.Alpha, Dropout = LoraDropout ?? c.Dropout,
                    TargetModules = Targets ?? c.TargetModules, Fused = !Unfused },
            // Freezing lower layers also freezes the embeddings below them, as BertModel.FreezeLowerLayers does.
            FullFineTuningConfig c =>
                c with { FreezeLayers = FreezeLayers ?? c.FreezeLayers,
                    FreezeEmbeddings = FreezeEmbeddings || FreezeLayers > 0 || c.FreezeEmbeddings },
            PromptTuningConfig c => c with { NumVirtualTokens = VirtualTokens ?? c.NumVirtualTokens },
            PrefixTuningConfig c => c with { NumVirtualTokens = VirtualTokens ?? c.NumVirtualTokens },
            BottleneckConfig c => c with { ReductionFactor = ReductionFactor ?? c.ReductionFactor, Fused = !Unfused },
            var c => c,
        };
        return config with { Seed = Seed };
    }

    public string Describe()
    {
        var name = Preset.Name;
        return name switch
        {
            "lora" or "rslora" or "dora" =>
                $"{name} r={Rank ?? 8} α={Alpha ?? 16:0.##}{(Targets is null ? "" : " on " + string.Join(",", Targets))}",
            "full" when FreezeLayers > 0 || FreezeEmbeddings =>
                $"full (embeddings{(FreezeLayers > 0 ? $" and {FreezeLayers} lower layers" : "")} frozen)",
            _ => name,
        };
    }
}
