using Finetune.Nn;
using Finetune.Peft;
using Finetune.Peft.Lora;

namespace Finetune.Tests.Peft;

public class LoraTests
{
    private static readonly BertConfig Tiny = new()
    {
        VocabSize = 50, HiddenSize = 16, NumLayers = 2, NumHeads = 4, IntermediateSize = 32, MaxPositions = 20,
        HiddenDropout = 0f, AttentionDropout = 0f,
    };

    private static (Tensor Ids, Tensor Mask, Tensor Labels) Batch()
    {
        var ids = Tensor.FromArray(new[] { 2, 7, 9, 11, 3, 0, 2, 5, 6, 3, 0, 0, 2, 40, 41, 42, 43, 3 }, 3, 6);
        var mask = Tensor.FromArray(new[] { 1f, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1 }, 3, 6);
        var labels = Tensor.FromArray(new[] { 0, 1, 1 }, 3);
        return (ids, mask, labels);
    }

    /// <summary>Gives every B a nonzero value so the adapters change the output.</summary>
    private static void PerturbB(PeftModel<BertForSequenceClassification> peft)
    {
        var g = new Generator(99);
        foreach (var l in peft.Layers<LoraLinear>())
            using (var v = Tensor.Normal(l.LoraB.Weight.Shape.ToArray(), 0f, 0.5f, g)) l.LoraB.Weight.CopyFrom(v);
    }

    [Test]
    public void Injection_wraps_targets_with_peft_names_and_freezes_the_base()
    {
        using var model = new BertForSequenceClassification(Tiny, 2, generator: new Generator(1));
        var peft = PeftModel.Apply(model, new LoraConfig { Rank = 4, Alpha = 8 });
        Assert.That(peft.AdaptedPaths, Is.EqualTo(new[]
        {
            "bert.encoder.layer.0.attention.self.query", "bert.encoder.layer.0.attention.self.value",
            "bert.encoder.layer.1.attention.self.query", "bert.encoder.layer.1.attention.self.value",
        }));
        var names = model.NamedParameters().ToDictionary(p => p.Key, p => p.Value);
        Assert.That(names["bert.encoder.layer.0.attention.self.query.base_layer.weight"].Trainable, Is.False);
        Assert.That(names["bert.encoder.layer.0.attention.self.query.lora_A.weight"].Shape, Is.EqualTo(new[] { 4, 16 }));
        Assert.That(names["bert.encoder.layer.0.attention.self.query.lora_B.weight"].Shape, Is.EqualTo(new[] { 16, 4 }));
        Assert.That(names["bert.encoder.layer.0.attention.self.query.lora_B.weight"].Value.ToArray(), Is.All.EqualTo(0f));
        Assert.That(model.TrainableParameters().Count(), Is.EqualTo(8));
    }

    [Test]
    public void Trainable_counts_equal_their_formulas()
    {
        using var model = new BertForSequenceClassification(Tiny, 3, generator: new Generator(1));
        long baseTotal = model.ParameterCounts().Total;
        var config = new LoraConfig { Rank = 4, Alpha = 8, TargetModules = LoraConfig.AllBertLinears, ModulesToSave = new[] { "classifier" } };
        var report = PeftModel.Apply(model, config).TrainableReport();
        int h = Tiny.HiddenSize, f = Tiny.IntermediateSize, r = config.Rank;
        // Per layer: q, k, v, attention.output.dense (h→h), intermediate (h→f), output (f→h).
        long loraPerLayer = 4L * r * (h + h) + r * (h + f) + r * (f + h);
        long lora = Tiny.NumLayers * loraPerLayer;
        long head = (long)h * 3 + 3;
        Assert.That(report.Trainable, Is.EqualTo(lora + head));
        Assert.That(report.Total, Is.EqualTo(baseTotal + lora));
        Assert.That(report.Percent, Is.EqualTo(100.0 * (lora + head) / (baseTotal + lora)).Within(1e-9));
        Assert.That(report.ToString(), Does.StartWith($"trainable params: {lora + head:N0} || all params: {baseTotal + lora:N0} || trainable%: "));
    }

    [Test]
    public void Fresh_adapters_leave_the_output_unchanged()
    {
        using var model = new BertForSequenceClassification(Tiny, 2, generator: new Generator(1));
        model.Eval();
        var (ids, mask, _) = Batch();
        using var scope = TensorScope.Begin();
        var before = model.Forward(ids, mask).ToArray();
        PeftModel.Apply(model, new LoraConfig { TargetModules = LoraConfig.AllBertLinears });
        Assert.That(model.Forward(ids, mask).ToArray(), Is.EqualTo(before));
    }

    [Test]
    public void Merged_equals_unmerged_and_unmerge_restores_the_base_weight()
    {
        using var model = new BertForSequenceClassification(Tiny, 2, generator: new Generator(1));
        model.Eval();
        var peft = PeftModel.Apply(model, new LoraConfig { Rank = 4, Alpha = 16, TargetModules = LoraConfig.AllBertLinears });
        var (ids, mask, _) = Batch();
        using var scope = TensorScope.Begin();
        var fresh = model.Forward(ids, mask).ToArray();
        PerturbB(peft);
        var baseWeight = peft.Layers<LoraLinear>().First().BaseLayer.Weight.Value.ToArray();
        var unmerged = model.Forward(ids, mask).ToArray();
        Assert.That(unmerged.Zip(fresh, (a, b) => Math.Abs(a - b)).Max(), Is.GreaterThan(1e-3), "the adapters must change the output");
        peft.Merge();
        Assert.That(peft.Layers<LoraLinear>().First().BaseLayer.Weight.Value.ToArray(), Is.Not.EqualTo(baseWeight));
        var merged = model.Forward(ids, mask).ToArray();
        double maxErr = unmerged.Zip(merged, (a, b) => Math.Abs(a - b)).Max();
        TestContext.Out.WriteLine($"LoRA merged vs unmerged max abs error: {maxErr:E2}");
        Assert.That(maxErr, Is.LessThan(1e-5));
        model.Train();
        var e = Assert.Throws<InvalidOperationException>(() => model.Forward(ids, mask))!;
        Assert.That(e.Message, Does.Contain("Unmerge()"));
        model.Eval();
        peft.Unmerge();
        var restored = peft.Layers<LoraLinear>().First().BaseLayer.Weight.Value.ToArray();
        Assert.That(restored.Zip(baseWeight, (a, b) => Math.Abs(a - b)).Max(), Is.LessThan(1e-6));
    }

    [Test]
    public void Frozen_weights_stay_bit_identical_and_get_no_gradients_through_updates()
    {
        using var model = new BertForSequenceClassification(Tiny, 2, generator: new Generator(4));
        var peft = PeftModel.Apply(model, new LoraConfig { Rank = 2, Alpha = 4, Dropout = 0.1f, ModulesToSave = new[] { "classifier" } });
        var frozen = model.NamedParameters().Where(p => !p.Value.Trainable).ToDictionary(p => p.Key, p => p.Value.Value.ToArray());
        var trainable = model.NamedParameters().Where(p => p.Value.Trainable).ToDictionary(p => p.Key, p => p.Value.Value.ToArray());
        Assert.That(frozen.Keys, Does.Contain("bert.embeddings.word_embeddings.weight").And.Contain("bert.encoder.layer.0.attention.self.query.base_layer.weight"));
        var (ids, mask, labels) = Batch();
        for (int step = 0; step < 3; step++)
        {
            using (TensorScope.Begin())
            {
                model.Forward(ids, mask).CrossEntropy(labels).Backward();
            }
            foreach (var (name, p) in model.NamedParameters())
            {
                if (!p.Trainable)
                {
                    Assert.That(p.Grad, Is.Null, name);
                    continue;
                }
                Assert.That(p.Grad, Is.Not.Null, name);
                p.AddInPlace(p.Grad!, -0.5f);
                p.ZeroGrad();
            }
        }
        foreach (var (name, before) in frozen)
            Assert.That(model.GetParameter(name).Value.ToArray(), Is.EqualTo(before), name);
        foreach (var name in trainable.Keys.Where(n => n.Contains("lora_B") || n.StartsWith("classifier", StringComparison.Ordinal)))
            Assert.That(model.GetParameter(name).Value.ToArray(), Is.Not.EqualTo(trainable[name]), name + " should have been updated");
        Assert.That(peft.TrainableParameters().Count(), Is.EqualTo(trainable.Count));
    }

    [Test]
    public void Targets_that_match_nothing_are_an_error_listing_linear_paths()
    {
        using var model = new BertModel(Tiny, new Generator(1));
        var e = Assert.Throws<ArgumentException>(() => PeftModel.Apply(model, new LoraConfig { TargetModules = new[] { "qkv" } }))!;
        Assert.That(e.Message, Does.Contain("qkv").And.Contain("encoder.layer.0.attention.self.query"));
    }

    [Test]
    public void Regex_targets_select_only_the_feed_forward_output()
    {
        using var model = new BertModel(Tiny, new Generator(1));
        var peft = PeftModel.Apply(model, new LoraConfig { TargetModules = Array.Empty<string>(), TargetRegex = @"encoder\.layer\.\d+\.output\.dense" });
        Assert.That(peft.AdaptedPaths, Is.EqualTo(new[] { "encoder.layer.0.output.dense", "encoder.layer.1.output.dense" }));
    }

    [Test]
    public void Adapter_save_and_load_round_trip_restores_outputs()
    {
        var dir = Directory.CreateTempSubdirectory("finetune-lora-").FullName;
        try
        {
            var config = new LoraConfig { Rank = 4, Alpha = 8, ModulesToSave = new[] { "classifier" }, UseRsLora = true };
            var (ids, mask, _) = Batch();
            float[] expected;
            using (var a = new BertForSequenceClassification(Tiny, 2, generator: new Generator(1)))
            {
                a.Eval();
                var peft = PeftModel.Apply(a, config);
                PerturbB(peft);
                peft.SaveAdapter(dir);
                using (TensorScope.Begin()) expected = a.Forward(ids, mask).ToArray();
            }
            Assert.That(LoraConfig.FromJson(File.ReadAllText(Path.Combine(dir, "adapter_config.json"))), Is.EqualTo(config).Using<LoraConfig>(
                (x, y) => x.Rank == y.Rank && x.Alpha == y.Alpha && x.UseRsLora == y.UseRsLora && x.TargetModules.SequenceEqual(y.TargetModules) && x.ModulesToSave.SequenceEqual(y.ModulesToSave)));
            using var b = new BertForSequenceClassification(Tiny, 2, generator: new Generator(1));
            b.Eval();
            var peftB = PeftModel.Apply(b, config);
            peftB.LoadAdapter(dir);
            using (TensorScope.Begin()) Assert.That(b.Forward(ids, mask).ToArray(), Is.EqualTo(expected));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
