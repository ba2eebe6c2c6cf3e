using Finetune.Nn;
using Finetune.Nn.Training;
using Finetune.App;
using Finetune.Peft;

namespace Finetune.Tests.Cuda;

/// <summary>
/// The models the device tests train: a small BERT (2 layers, hidden 64, 4 heads, dropout on) and the small ViT, both
/// with random weights from a seed, adapted by a registry preset, and synthetic batches collated straight onto a device.
/// </summary>
public static class SmallModels
{
    public static readonly BertConfig Bert = new()
    {
        VocabSize = 120, HiddenSize = 64, NumLayers = 2, NumHeads = 4, IntermediateSize = 128, MaxPositions = 48,
        HiddenDropout = 0.1f, AttentionDropout = 0.1f,
    };

    public static readonly VitConfig Vit = new() { ImageSize = 8, PatchSize = 4, HiddenSize = 16, NumLayers = 2, NumHeads = 4, IntermediateSize = 32 };

    public const int Labels = 3;

    public sealed record Tokens(int[] Ids, int Label);

    public sealed record Image(float[] Pixels, int Label);

    /// <summary>Sequences of 4-16 tokens; the label is which third of the vocabulary the first real token falls in.</summary>
    public static List<Tokens> Sentences(int count, ulong seed)
    {
        var rng = new Random((int)seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            var ids = new int[rng.Next(4, 17)];
            ids[0] = 101 % Bert.VocabSize;
            for (int i = 1; i < ids.Length; i++) ids[i] = rng.Next(1, Bert.VocabSize);
            return new Tokens(ids, ids[1] * Labels / Bert.VocabSize);
        }).ToList();
    }

    /// <summary>Images whose label is which row band is brightest.</summary>
    public static List<Image> Images(int count, ulong seed)
    {
        var rng = new Random((int)seed);
        int side = Vit.ImageSize;
        return Enumerable.Range(0, count).Select(i =>
        {
            int label = i % Labels;
            var pixels = new float[side * side];
            for (int p = 0; p < pixels.Length; p++)
                pixels[p] = (float)rng.NextDouble() + (p / side * Labels / side == label ? 1f : 0f);
            return new Image(pixels, label);
        }).ToList();
    }

    /// <summary>Padded ids, the attention mask and labels, created on <paramref name="device"/> (the batch upload).</summary>
    public static Batch Collate(IReadOnlyList<Tokens> items, Device device)
    {
        int seq = items.Max(t => t.Ids.Length);
        var ids = new int[items.Count * seq];
        var mask = new float[items.Count * seq];
        for (int b = 0; b < items.Count; b++)
            for (int t = 0; t < items[b].Ids.Length; t++)
            {
                ids[b * seq + t] = items[b].Ids[t];
                mask[b * seq + t] = 1f;
            }
        return new Batch(new Dictionary<string, Tensor>
        {
            ["input_ids"] = Tensor.FromArray(ids, new[] { items.Count, seq }, device),
            ["attention_mask"] = Tensor.FromArray(mask, new[] { items.Count, seq }, device),
        }, Tensor.FromArray(items.Select(t => t.Label).ToArray(), new[] { items.Count }, device));
    }

    public static Batch Collate(IReadOnlyList<Image> items, Device device)
    {
        int side = Vit.ImageSize;
        return new Batch(
            new Dictionary<string, Tensor>
            {
                ["pixel_values"] = Tensor.FromArray(items.SelectMany(i => i.Pixels).ToArray(), new[] { items.Count, 1, side, side }, device),
            },
            Tensor.FromArray(items.Select(i => i.Label).ToArray(), new[] { items.Count }, device));
    }

    public static ClassificationData<Tokens> BertData(Device device, int train = 64, int validation = 0) =>
        new(Sentences(train, 11), validation > 0 ? Sentences(validation, 12) : null, items => Collate(items, device));

    public static ClassificationData<Image> VitData(Device device, int train = 64) =>
        new(Images(train, 13), null, items => Collate(items, device));

    /// <summary>The small BERT from <paramref name="seed"/> with <paramref name="method"/>, built on the CPU and moved to <paramref name="device"/>.</summary>
    public static PreparedClassifier PrepareBert(string method, Device device, ulong seed = 7) =>
        FineTuning.Prepare(new BertModel(Bert, new Generator(seed)),
            new FineTuneOptions { Method = method, Labels = Labels, Seed = seed, Device = device });

    public static PreparedClassifier PrepareVit(string method, Device device, ulong seed = 7) =>
        FineTuning.PrepareVit(new VitModel(Vit, new Generator(seed)),
            new FineTuneOptions { Method = method, Labels = Labels, Seed = seed, Device = device });

    public static PreparedClassifier Prepare(ModelFamily family, string method, Device device, ulong seed = 7) =>
        family == ModelFamily.Bert ? PrepareBert(method, device, seed) : PrepareVit(method, device, seed);

    /// <summary>Steps of one preset's own learning rate, batches of 8, clipping on, no output.</summary>
    public static TrainOptions Options(ModelFamily family, string method, int steps) => new()
    {
        MaxSteps = steps, BatchSize = 8, LearningRate = PeftRegistry.Preset(method).LearningRate(family), WarmupSteps = 2,
        MaxGradNorm = 1f, Seed = 5, RunName = method,
    };

    /// <summary>Trains <paramref name="prepared"/> on its device with the family's synthetic data.</summary>
    public static TrainingReport Train(ModelFamily family, PreparedClassifier prepared, TrainOptions options)
    {
        var device = Engine.DeviceOf(prepared.Model);
        return family == ModelFamily.Bert
            ? Engine.Train(prepared.Classifier, BertData(device), options)
            : Engine.Train(prepared.Classifier, VitData(device), options);
    }

    /// <summary>The trainable weights by name, copied to the host.</summary>
    public static Dictionary<string, float[]> Trainable(Module model) =>
        model.NamedParameters().Where(p => p.Value.Trainable).ToDictionary(p => p.Key, p => p.Value.Value.ToArray());

    /// <summary>Every registered preset of a family, as test cases.</summary>
    public static IEnumerable<TestCaseData> Presets()
    {
        foreach (var family in new[] { ModelFamily.Bert, ModelFamily.Vit })
            foreach (var preset in PeftRegistry.PresetsFor(family))
                yield return new TestCaseData(family, preset.Name).SetArgDisplayNames(family.ToString(), preset.Name);
    }
}
