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

    /// <summary>all-MiniLM-L6-v2 with a new head, adapted by <paramref name="options"/>.</summary>
    public static PreparedClassifier MiniLm(FineTuneOptions options) =>
        Prepare(Nn.IO.MiniLm.LoadModel(), options, options.PromptInitText is null ? null : Nn.IO.MiniLm.LoadTokenizer());

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
        var model = new BertForSequenceClassification(encoder, options.Labels, options.Pooling, new Generator(options.Seed));
        return OnDevice(new PreparedClassifier(model, new BertTextClassifier(model), PeftModel.Apply<Module>(model, config), options));
    }

    /// <summary>A pretrained ViT with a new head of <see cref="FineTuneOptions.Labels"/> classes, adapted by
    /// <paramref name="options"/>.</summary>
    public static PreparedClassifier PrepareVit(VitModel encoder, FineTuneOptions options)
    {
        options.Validate();
        var config = options.ToConfig(ModelFamily.Vit, encoder.Config.NumLayers);
        var model = new VitForImageClassification(encoder, options.Labels, new Generator(options.Seed));
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
    public static void Save(PreparedClassifier prepared, string directory) => AtomicDirectory.Write(directory, tmp =>
    {
        prepared.Peft.SaveAdapter(Path.Combine(tmp, AdapterDirectory));
        AtomicFile.WriteAllText(Path.Combine(tmp, RunFile), JsonSerializer.Serialize(prepared.Options, Json));
    });

    /// <summary>Rebuilds a classifier saved by <see cref="Save"/> on the pretrained MiniLM, on <paramref name="device"/> (the CPU
    /// by default).</summary>
    public static PreparedClassifier LoadMiniLm(string directory, Kernels.Device? device = null)
    {
        var prepared = MiniLm(ReadOptions(directory) with { Device = device ?? Kernels.Device.Cpu });
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
        return FineTuneOptions.FromJson(JsonFields.ReadFile(runPath));
    }
}
