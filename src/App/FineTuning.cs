using System.Text.Json;
using System.Text.Json.Serialization;
using Finetune.Nn;
using Finetune.Nn.Data;
using Finetune.Nn.IO;
using Finetune.Nn.Text;
using Finetune.Peft.Prompts;

using Finetune.Peft;

namespace Finetune.App;

/// <summary>Builds, saves and reloads classifiers on a pretrained encoder with any registered method.</summary>
public static class FineTuning
{
    public const string RunFile = "finetune_run.json", AdapterDirectory = "adapter";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Converters = { new JsonStringEnumConverter() } };

    /// <summary>The Hugging Face name of the packaged encoder, written as adapters' base_model_name_or_path.</summary>
    public const string MiniLmName = "sentence-transformers/all-MiniLM-L6-v2";

    /// <summary>all-MiniLM-L6-v2 with a new head, adapted by <paramref name="options"/>.</summary>
    public static PreparedClassifier MiniLm(FineTuneOptions options) => Text(options with { BaseModel = null });

    /// <summary>
    /// The run's text encoder (<see cref="FineTuneOptions.BaseModel"/>, else MiniLM) with a new head, adapted by
    /// <paramref name="options"/>.
    /// </summary>
    public static PreparedClassifier Text(FineTuneOptions options)
    {
        var encoder = options.BaseModel is { } dir ? HfModelFolder.LoadBert(dir) : Nn.IO.MiniLm.LoadModel();
        using var tokenizer = options.PromptInitText is null ? null : TextTokenizer(options, Nn.IO.MiniLm.MaxSequenceLength);
        var prepared = Prepare(encoder, options, tokenizer);
        prepared.Peft.BaseModelNameOrPath = BaseModelName(options);
        return prepared;
    }

    /// <summary>The tokenizer of the run's text encoder: the model folder's, else MiniLM's.</summary>
    public static BertTokenizerAdapter TextTokenizer(FineTuneOptions options, int maxLength) => options.BaseModel is { } dir
        ? BertTokenizerAdapter.FromModelDirectory(dir, maxLength)
        : Nn.IO.MiniLm.LoadTokenizer(maxLength);

    /// <summary>What adapters name as their base model: the folder given to --model, else MiniLM's Hugging Face id.</summary>
    public static string BaseModelName(FineTuneOptions options) => options.BaseModel ?? MiniLmName;

    /// <param name="tokenizer">Needed only to turn <see cref="FineTuneOptions.PromptInitText"/> into token ids.</param>
    public static PreparedClassifier Prepare(BertModel encoder, FineTuneOptions options, BertTokenizerAdapter? tokenizer = null)
    {
        options.Validate();
        var config = options.ToConfig(ModelFamily.Bert, encoder.Config.NumLayers);
        if (config is PromptTuningConfig prompt && options.PromptInitText is { } text)
        {
            if (tokenizer is null) throw new ArgumentException("fine-tuning: a prompt init text needs the encoder's tokenizer");
            var ids = tokenizer.Encode(text).Where(id => id != tokenizer.ClsId && id != tokenizer.SepId && id != tokenizer.PadId).ToArray();
            if (ids.Length == 0) throw new ArgumentException($"fine-tuning: the prompt init text '{text}' has no tokens");
            config = prompt with { Init = PromptInit.Vocabulary, InitTokenIds = ids };
        }
        encoder.Encoder.FusedEpilogues = !options.Unfused;
        var model = new BertForSequenceClassification(encoder, options.Labels, options.Pooling, new Generator(options.Seed));
        BertSelfAttention.SetFused(model, !options.UnfusedAttention);
        return OnDevice(new PreparedClassifier(model, new BertTextClassifier(model), PeftModel.Apply<Module>(model, config), options));
    }

    /// <summary>A pretrained ViT with a new head of <see cref="FineTuneOptions.Labels"/> classes, adapted by
    /// <paramref name="options"/>.</summary>
    public static PreparedClassifier PrepareVit(VitModel encoder, FineTuneOptions options)
    {
        options.Validate();
        var config = options.ToConfig(ModelFamily.Vit, encoder.Config.NumLayers);
        encoder.Encoder.FusedEpilogues = !options.Unfused;
        var model = new VitForImageClassification(encoder, options.Labels, new Generator(options.Seed));
        BertSelfAttention.SetFused(model, !options.UnfusedAttention);
        return OnDevice(new PreparedClassifier(model, new VitImageClassifier(model), PeftModel.Apply<Module>(model, config), options));
    }

    /// <summary>Moves a classifier built on the CPU to <see cref="FineTuneOptions.Device"/> (adapters included).</summary>
    private static PreparedClassifier OnDevice(PreparedClassifier prepared)
    {
        try
        {
            prepared.Model.To(prepared.Options.Device);
        }
        catch
        {
            prepared.Dispose();
            throw;
        }
        return prepared;
    }

    /// <summary>
    /// Writes the options and the adapter (all a rebuild needs besides the pretrained encoder) as one folder: filled beside
    /// <paramref name="directory"/> and swapped in by rename (<see cref="AtomicDirectory"/>), so a kill never mixes two saves.
    /// </summary>
    /// <param name="images">For an image run: how its images were prepared (preprocessor_config.json).</param>
    public static void Save(PreparedClassifier prepared, string directory, ImageProcessorConfig? images = null) =>
        AtomicDirectory.Write(directory, tmp =>
        {
            prepared.Peft.SaveAdapter(Path.Combine(tmp, AdapterDirectory));
            if (images is not null) AtomicFile.WriteAllText(Path.Combine(tmp, ImageProcessorConfig.FileName), images.ToJson());
            AtomicFile.WriteAllText(Path.Combine(tmp, RunFile), JsonSerializer.Serialize(prepared.Options, Json));
        });

    /// <summary>
    /// Rebuilds a text classifier saved by <see cref="Save"/> on its base model (MiniLM unless the run names a folder), on
    /// <paramref name="device"/> (the CPU by default).
    /// </summary>
    public static PreparedClassifier LoadMiniLm(string directory, Kernels.Device? device = null) =>
        Load(directory, o => Text(o with { Device = device ?? Kernels.Device.Cpu }));

    /// <summary>Rebuilds an image classifier saved by <see cref="Save"/> on the ViT that pretrain-vit cached.</summary>
    public static PreparedClassifier LoadVit(string directory) =>
        Load(directory, o => PrepareVit(VitCheckpoint.Load(VitCheckpoint.DefaultDirectory()), o));

    /// <summary>Rebuilds a saved run on the encoder its data needs: the cached ViT for images, MiniLM otherwise.</summary>
    public static PreparedClassifier Load(string directory) =>
        ReadOptions(directory).Data?.Kind == DataKind.Image ? LoadVit(directory) : LoadMiniLm(directory);

    /// <summary>Rebuilds a saved run: <paramref name="prepare"/> builds the classifier for its options, then the adapter is
    /// loaded.</summary>
    public static PreparedClassifier Load(string directory, Func<FineTuneOptions, PreparedClassifier> prepare)
    {
        ArgumentNullException.ThrowIfNull(prepare);
        var options = ReadOptions(directory);
        var prepared = prepare(options);
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
        AtomicDirectory.Recover(directory);
        var runPath = Path.Combine(directory, RunFile);
        if (!File.Exists(runPath))
            throw new FileNotFoundException($"{directory} is not a saved fine-tuning run: {RunFile} is missing", runPath);
        var options = FineTuneOptions.FromJson(JsonFields.ReadFile(runPath));
        _ = options.Classes(runPath);
        return options;
    }
}
