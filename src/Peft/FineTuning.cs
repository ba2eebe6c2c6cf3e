using System.Text.Json;
using Finetune.Nn;
using Finetune.Nn.IO;
using Finetune.Peft.Lora;

namespace Finetune.Peft;

/// <summary>How a pretrained encoder is adapted.</summary>
public enum FineTuneMethod
{
    /// <summary>Every weight trains (optionally with the embeddings and lower layers frozen).</summary>
    Full,

    /// <summary>Low-rank updates on chosen projections; the encoder is frozen.</summary>
    Lora,

    /// <summary>Only the new head trains (the frozen-encoder baseline).</summary>
    LinearProbe,
}

/// <summary>A method and its settings; serialised beside saved weights so a run can be rebuilt.</summary>
public sealed record FineTuneOptions
{
    public FineTuneMethod Method { get; init; } = FineTuneMethod.Lora;
    public int Rank { get; init; } = 8;
    public float Alpha { get; init; } = 16f;
    public float LoraDropout { get; init; } = 0.1f;
    public IReadOnlyList<string> Targets { get; init; } = new[] { "query", "value" };
    public int FreezeLayers { get; init; }
    public bool FreezeEmbeddings { get; init; }
    public PoolingMode Pooling { get; init; } = PoolingMode.Mean;
    public int Labels { get; init; } = 2;
    public ulong Seed { get; init; } = 42;

    public string Describe() => Method switch
    {
        FineTuneMethod.Lora => $"LoRA r={Rank} α={Alpha:0.##} on {string.Join(",", Targets)} + head",
        FineTuneMethod.Full when FreezeLayers > 0 || FreezeEmbeddings => $"full (embeddings and {FreezeLayers} lower layers frozen)",
        FineTuneMethod.Full => "full fine-tuning",
        _ => "linear probe (frozen encoder)",
    };
}

/// <summary>A classifier ready to train: the model, its LoRA wrapper when there is one, and the trainable report.</summary>
public sealed class PreparedClassifier : IDisposable
{
    internal PreparedClassifier(BertForSequenceClassification model, PeftModel<BertForSequenceClassification>? lora, FineTuneOptions options)
    {
        Model = model;
        Lora = lora;
        Options = options;
    }

    public BertForSequenceClassification Model { get; }
    public PeftModel<BertForSequenceClassification>? Lora { get; }
    public FineTuneOptions Options { get; }

    public TrainableReport Report
    {
        get
        {
            var (trainable, total) = Model.ParameterCounts();
            return new TrainableReport(trainable, total);
        }
    }

    public void Dispose() => Model.Dispose();
}

/// <summary>Builds, saves and reloads sequence classifiers on a pretrained encoder with one of the methods.</summary>
public static class FineTuning
{
    public const string RunFile = "finetune_run.json", WeightsFile = "trainable.safetensors";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    /// <summary>all-MiniLM-L6-v2 with a new head, adapted by <paramref name="options"/>.</summary>
    public static PreparedClassifier MiniLm(FineTuneOptions options) => Prepare(Nn.IO.MiniLm.LoadModel(), options);

    public static PreparedClassifier Prepare(BertModel encoder, FineTuneOptions options)
    {
        if (options.Labels < 2) throw new ArgumentOutOfRangeException(nameof(options), options.Labels, "fine-tuning: a classifier needs at least 2 labels");
        var model = new BertForSequenceClassification(encoder, options.Labels, options.Pooling, new Generator(options.Seed));
        PeftModel<BertForSequenceClassification>? lora = null;
        switch (options.Method)
        {
            case FineTuneMethod.Full:
                if (options.FreezeEmbeddings) model.Bert.FreezeEmbeddings();
                if (options.FreezeLayers > 0) model.Bert.FreezeLowerLayers(options.FreezeLayers);
                break;
            case FineTuneMethod.Lora:
                model.FreezeEncoder();
                lora = Peft.Apply(model, new LoraConfig
                {
                    Rank = options.Rank,
                    Alpha = options.Alpha,
                    Dropout = options.LoraDropout,
                    TargetModules = options.Targets,
                    ModulesToSave = new[] { "classifier" },
                    Seed = options.Seed,
                });
                break;
            default:
                model.FreezeEncoder();
                break;
        }
        return new PreparedClassifier(model, lora, options);
    }

    /// <summary>Writes the options and the trainable weights (all a rebuild needs besides the pretrained encoder).</summary>
    public static void Save(PreparedClassifier prepared, string directory)
    {
        Directory.CreateDirectory(directory);
        var trainable = prepared.Model.NamedParameters().Where(p => p.Value.Trainable).Select(p => KeyValuePair.Create(p.Key, p.Value.Value));
        SafeTensors.Save(Path.Combine(directory, WeightsFile), trainable);
        AtomicFile.WriteAllText(Path.Combine(directory, RunFile), JsonSerializer.Serialize(prepared.Options, Json));
        prepared.Lora?.SaveAdapter(Path.Combine(directory, "adapter"));
    }

    /// <summary>Rebuilds a classifier saved by <see cref="Save"/> on the pretrained MiniLM.</summary>
    public static PreparedClassifier LoadMiniLm(string directory)
    {
        var runPath = Path.Combine(directory, RunFile);
        if (!File.Exists(runPath)) throw new FileNotFoundException($"{directory} is not a saved fine-tuning run: {RunFile} is missing", runPath);
        FineTuneOptions options;
        try
        {
            options = JsonSerializer.Deserialize<FineTuneOptions>(File.ReadAllText(runPath), Json) ?? throw new InvalidDataException($"{runPath}: empty");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{runPath}: not a valid run description ({e.Message})", e);
        }
        var prepared = MiniLm(options);
        var weightsPath = Path.Combine(directory, WeightsFile);
        var state = SafeTensors.Load(weightsPath);
        try
        {
            var expected = prepared.Model.NamedParameters().Where(p => p.Value.Trainable).Select(p => p.Key).ToList();
            var missing = expected.Where(n => !state.ContainsKey(n)).ToList();
            if (missing.Count > 0) throw new InvalidDataException($"{weightsPath}: missing trainable tensors: {string.Join(", ", missing.Take(5))}");
            prepared.Model.LoadStateDict(state, strict: false, weightsPath);
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
        }
        return prepared;
    }
}
