using System.Text.Json;
using System.Text.Json.Serialization;
using Finetune.Nn;
using Finetune.Nn.Data;
using Finetune.Nn.IO;
using Finetune.Nn.Text;
using Finetune.Nn.Training;
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

    [JsonIgnore]
    public PeftPreset Preset => PeftRegistry.Preset(Method);

    /// <summary>The preset's config for <paramref name="family"/> with this run's overrides.</summary>
    public PeftConfig ToConfig(ModelFamily family, int layers)
    {
        var preset = Preset;
        if (!preset.Families.Contains(family))
            throw new ArgumentException($"--method {preset.Name} does not apply to {family} models (it applies to {string.Join(", ", preset.Families)})");
        PeftConfig config = preset.Create(family, layers) switch
        {
            LoraConfig c => c with { Rank = Rank ?? c.Rank, Alpha = Alpha ?? c.Alpha, Dropout = LoraDropout ?? c.Dropout, TargetModules = Targets ?? c.TargetModules },
            // Freezing lower layers also freezes the embeddings below them, as BertModel.FreezeLowerLayers does.
            FullFineTuningConfig c => c with { FreezeLayers = FreezeLayers ?? c.FreezeLayers, FreezeEmbeddings = FreezeEmbeddings || FreezeLayers > 0 || c.FreezeEmbeddings },
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
            "lora" or "rslora" or "dora" => $"{name} r={Rank ?? 8} α={Alpha ?? 16:0.##}{(Targets is null ? "" : " on " + string.Join(",", Targets))}",
            "full" when FreezeLayers > 0 || FreezeEmbeddings => $"full (embeddings{(FreezeLayers > 0 ? $" and {FreezeLayers} lower layers" : "")} frozen)",
            _ => name,
        };
    }
}

/// <summary>A classifier ready to train: the model, its adapters, and how Engine.Train calls it.</summary>
public sealed class PreparedClassifier : IDisposable
{
    internal PreparedClassifier(Module model, IClassifier classifier, PeftModel<Module> peft, FineTuneOptions options)
    {
        Model = model;
        Classifier = classifier;
        Peft = peft;
        Options = options;
    }

    public Module Model { get; }
    public IClassifier Classifier { get; }
    public PeftModel<Module> Peft { get; }
    public FineTuneOptions Options { get; }

    public TrainableReport Report => Peft.TrainableReport();

    public void Dispose()
    {
        Peft.Dispose();
        Model.Dispose();
    }
}

/// <summary>Builds, saves and reloads classifiers on a pretrained encoder with any registered method.</summary>
public static class FineTuning
{
    public const string RunFile = "finetune_run.json", AdapterDirectory = "adapter";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Converters = { new JsonStringEnumConverter() } };

    /// <summary>all-MiniLM-L6-v2 with a new head, adapted by <paramref name="options"/>.</summary>
    public static PreparedClassifier MiniLm(FineTuneOptions options) =>
        Prepare(Nn.IO.MiniLm.LoadModel(), options, options.PromptInitText is null ? null : Nn.IO.MiniLm.LoadTokenizer());

    /// <param name="tokenizer">Needed only to turn <see cref="FineTuneOptions.PromptInitText"/> into token ids.</param>
    public static PreparedClassifier Prepare(BertModel encoder, FineTuneOptions options, BertTokenizerAdapter? tokenizer = null)
    {
        if (options.Labels < 2) throw new ArgumentOutOfRangeException(nameof(options), options.Labels, "fine-tuning: a classifier needs at least 2 labels");
        var config = options.ToConfig(ModelFamily.Bert, encoder.Config.NumLayers);
        if (config is PromptTuningConfig prompt && options.PromptInitText is { } text)
        {
            if (tokenizer is null) throw new ArgumentException("fine-tuning: a prompt init text needs the encoder's tokenizer");
            var ids = tokenizer.Encode(text).Where(id => id != tokenizer.ClsId && id != tokenizer.SepId && id != tokenizer.PadId).ToArray();
            if (ids.Length == 0) throw new ArgumentException($"fine-tuning: the prompt init text '{text}' has no tokens");
            config = prompt with { Init = PromptInit.Vocabulary, InitTokenIds = ids };
        }
        var model = new BertForSequenceClassification(encoder, options.Labels, options.Pooling, new Generator(options.Seed));
        return new PreparedClassifier(model, new BertTextClassifier(model), PeftModel.Apply<Module>(model, config), options);
    }

    /// <summary>A pretrained ViT with a new head of <see cref="FineTuneOptions.Labels"/> classes, adapted by <paramref name="options"/>.</summary>
    public static PreparedClassifier PrepareVit(VitModel encoder, FineTuneOptions options)
    {
        if (options.Labels < 2) throw new ArgumentOutOfRangeException(nameof(options), options.Labels, "fine-tuning: a classifier needs at least 2 labels");
        var config = options.ToConfig(ModelFamily.Vit, encoder.Config.NumLayers);
        var model = new VitForImageClassification(encoder, options.Labels, new Generator(options.Seed));
        return new PreparedClassifier(model, new VitImageClassifier(model), PeftModel.Apply<Module>(model, config), options);
    }

    /// <summary>Writes the options and the adapter (all a rebuild needs besides the pretrained encoder).</summary>
    public static void Save(PreparedClassifier prepared, string directory)
    {
        Directory.CreateDirectory(directory);
        prepared.Peft.SaveAdapter(Path.Combine(directory, AdapterDirectory));
        AtomicFile.WriteAllText(Path.Combine(directory, RunFile), JsonSerializer.Serialize(prepared.Options, Json));
    }

    /// <summary>Rebuilds a classifier saved by <see cref="Save"/> on the pretrained MiniLM.</summary>
    public static PreparedClassifier LoadMiniLm(string directory)
    {
        var prepared = MiniLm(ReadOptions(directory));
        try
        {
            prepared.Peft.LoadAdapter(Path.Combine(directory, AdapterDirectory));
        }
        catch
        {
            prepared.Dispose();
            throw;
        }
        return prepared;
    }

    public static FineTuneOptions ReadOptions(string directory)
    {
        var runPath = Path.Combine(directory, RunFile);
        if (!File.Exists(runPath)) throw new FileNotFoundException($"{directory} is not a saved fine-tuning run: {RunFile} is missing", runPath);
        try
        {
            var options = JsonSerializer.Deserialize<FineTuneOptions>(File.ReadAllText(runPath), Json) ?? throw new InvalidDataException($"{runPath}: empty");
            _ = options.Preset;
            return options;
        }
        catch (Exception e) when (e is JsonException or ArgumentException)
        {
            throw new InvalidDataException($"{runPath}: not a valid run description ({e.Message})", e);
        }
    }
}
