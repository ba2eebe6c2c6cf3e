using System.Text.Json;
using System.Text.Json.Serialization;
using Finetune.Nn;
using Finetune.Nn.Data;
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

    [JsonIgnore]
    public PeftPreset Preset => PeftRegistry.Preset(Method);

    /// <summary>The preset's config for <paramref name="family"/> with this run's overrides.</summary>
    public PeftConfig ToConfig(ModelFamily family, int layers)
    {
        var preset = Preset;
        if (!preset.Families.Contains(family))
            throw new ArgumentException($"--method {preset.Name} does not apply to {family} models (it applies to "
                + $"{string.Join(", ", preset.Families)})");
        PeftConfig config = preset.Create(family, layers) switch
        {
            LoraConfig c =>
                c with { Rank = Rank ?? c.Rank, Alpha = Alpha ?? c.Alpha, Dropout = LoraDropout ?? c.Dropout,
                    TargetModules = Targets ?? c.TargetModules },
            // Freezing lower layers also freezes the embeddings below them, as BertModel.FreezeLowerLayers does.
            FullFineTuningConfig c =>
                c with { FreezeLayers = FreezeLayers ?? c.FreezeLayers,
                    FreezeEmbeddings = FreezeEmbeddings || FreezeLayers > 0 || c.FreezeEmbeddings },
            PromptTuningConfig c => c with { NumVirtualTokens = VirtualTokens ?? c.NumVirtualTokens },
            PrefixTuningConfig c => c with { NumVirtualTokens = VirtualTokens ?? c.NumVirtualTokens },
            BottleneckConfig c => c with { ReductionFactor = ReductionFactor ?? c.ReductionFactor },
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
