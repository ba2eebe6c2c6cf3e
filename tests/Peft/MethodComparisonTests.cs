using System.Text.Json;
using Finetune.App;
using Finetune.Nn;
using Finetune.Nn.Training;
using Finetune.Peft;

namespace Finetune.Tests.Peft;

public class MethodComparisonTests
{
    private sealed record Image(float[] Pixels, int Label);

    /// <summary>8×8 images whose class is the sign of their mean brightness.</summary>
    private static List<Image> Images(int count, ulong seed)
    {
        using var scope = TensorScope.Begin();
        var values = Tensor.Normal(new[] { count, 64 }, 0f, 1f, new Generator(seed)).ToArray();
        return Enumerable.Range(0, count).Select(i =>
        {
            var px = values.AsSpan(i * 64, 64).ToArray();
            int label = i % 2;
            for (int j = 0; j < 64; j++) px[j] += label == 1 ? 0.8f : -0.8f;
            return new Image(px, label);
        }).ToList();
    }

    private static Batch Collate(IReadOnlyList<Image> items) => new(
        new Dictionary<string, Tensor> { ["pixel_values"] = Tensor.FromArray(items.SelectMany(i => i.Pixels).ToArray(), items.Count, 1, 8, 8) },
        Tensor.FromArray(items.Select(i => i.Label).ToArray(), items.Count));

    [Test]
    public void Compare_trains_each_method_on_the_same_budget_and_writes_json_and_a_chart()
    {
        var dir = Directory.CreateTempSubdirectory("finetune-compare-").FullName;
        try
        {
            using var pretrained = new VitModel(PeftMethodTests.Vit, new Generator(8));
            var weights = pretrained.StateDict();
            VitModel Copy()
            {
                var m = new VitModel(PeftMethodTests.Vit, new Generator(0));
                m.LoadStateDict(weights);
                return m;
            }
            var data = new ClassificationData<Image>(Images(64, 1), null, Collate);
            var methods = new[] { "linear-probe", "lora", "vpt-deep", "houlsby", "bitfit" };
            var results = MethodComparison.Run(methods, ModelFamily.Vit, o => FineTuning.PrepareVit(Copy(), o), data, Images(32, 2),
                new TrainOptions { MaxSteps = 4, BatchSize = 16 }, 42);
            Assert.That(results.Select(r => r.Method), Is.EqualTo(methods));
            Assert.That(results.Select(r => r.Steps), Is.All.EqualTo(4));
            Assert.That(results.Select(r => r.TestExamples), Is.All.EqualTo(32));
            Assert.That(results.Select(r => r.StepSeconds), Is.All.GreaterThan(0));
            Assert.That(results[0].TrainableParameters, Is.EqualTo(16 * 2 + 2), "linear probe trains the head only");
            Assert.That(results[1].TrainableParameters, Is.GreaterThan(results[0].TrainableParameters));

            MethodComparison.Write(dir, "tiny", results);
            using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "compare.json")));
            var rows = json.RootElement.GetProperty("methods");
            Assert.That(rows.GetArrayLength(), Is.EqualTo(methods.Length));
            Assert.That(rows[1].GetProperty("trainable_parameters").GetInt64(), Is.EqualTo(results[1].TrainableParameters));
            Assert.That(rows[1].GetProperty("accuracy").GetSingle(), Is.EqualTo(results[1].Accuracy));
            var png = File.ReadAllBytes(Path.Combine(dir, "compare.png"));
            Assert.That(png[1..4], Is.EqualTo("PNG"u8.ToArray()));
            Assert.Throws<ArgumentException>(() => MethodComparison.Run(new[] { "vpt-deep" }, ModelFamily.Bert, _ => throw new InvalidOperationException(), data, data.Train, new TrainOptions(), 1));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
