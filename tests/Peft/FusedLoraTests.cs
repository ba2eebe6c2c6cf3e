using Finetune.Autograd;
using Finetune.Kernels.Profiling;
using Finetune.Nn;
using Finetune.Peft.Lora;
using PeftApi = Finetune.Peft.PeftModel;

namespace Finetune.Tests.Peft;

/// <summary>
/// The fused LoRA layer (kernel version 2) against the composed ops (version 1) on the same weights and the same
/// dropout stream: forward and every gradient within 1e-5 relative, and the profiler shows which path ran.
/// </summary>
public class FusedLoraTests
{
    private sealed record Outcome(float[] Y, float[]? GradX, float[] GradA, float[] GradB, IReadOnlyList<KernelRecord> Kernels);

    private static LoraLinear Layer(int inF, int outF, int rank, float dropout, bool bias = true)
    {
        var g = new Generator(11);
        var layer = new LoraLinear(new Linear(inF, outF, bias, g), rank, 16f / rank, dropout, new Generator(23));
        using var b = Tensor.Normal(new[] { outF, rank }, 0f, 0.5f, g);
        layer.LoraB.Weight.CopyFrom(b);
        return layer;
    }

    /// <summary>One forward and backward of sum(y ∘ w) with the dropout stream rewound, so both paths draw the same mask.</summary>
    private static Outcome Run(LoraLinear layer, bool fused, int[] inputShape, bool xGrad)
    {
        using var scope = TensorScope.Begin();
        layer.Fused = fused;
        layer.ZeroGrad();
        var dropout = (Dropout)layer.NamedChildren().First(c => c.Key == "lora_dropout").Value;
        dropout.Generator!.Offset = 0;
        var x = Tensor.Normal(inputShape, 0f, 1f, new Generator(5));
        x.RequiresGrad = xGrad;
        using var profiler = KernelProfiler.Start();
        var y = layer.Forward(x);
        var weights = Tensor.Normal(y.Shape.ToArray(), 0f, 1f, new Generator(7));
        if (GradMode.IsEnabled) (y * weights).Sum().Backward();
        return new Outcome(y.ToArray(), xGrad ? x.Grad!.ToArray() : null,
            layer.LoraA.Weight.Grad?.ToArray() ?? Array.Empty<float>(), layer.LoraB.Weight.Grad?.ToArray() ?? Array.Empty<float>(),
            profiler.Records.ToList());
    }

    private static void AssertSame(Outcome fused, Outcome composed)
    {
        FusedParity.AssertClose(fused.Y, composed.Y, "y");
        if (composed.GradX is not null) FusedParity.AssertClose(fused.GradX!, composed.GradX, "dX");
        FusedParity.AssertClose(fused.GradA, composed.GradA, "dA");
        FusedParity.AssertClose(fused.GradB, composed.GradB, "dB");
    }

    private static void AssertFusedRan(Outcome o, bool dropoutDrawn)
    {
        var names = o.Kernels.Select(k => k.Kernel).ToHashSet();
        Assert.That(names, Does.Contain("lora_down").And.Contain("gemm_lora_up"), "the fused forward kernels ran");
        Assert.That(names, Does.Not.Contain("random_uniform").And.Not.Contain("dropoutmask"), "no dropout tensor was drawn");
        if (dropoutDrawn) Assert.That(o.Kernels.Any(k => k.Kernel == "lora_down" && k.Shape.EndsWith("drop")), "lora_down drew the dropout");
    }

    [Test]
    public void Fused_matches_composed_forward_and_gradients(
        [Values(1, 4, 8, 16, 64)] int rank, [Values(0f, 0.1f)] float dropout, [Values(true, false)] bool xGrad)
    {
        using var layer = Layer(37, 29, rank, dropout);
        var shape = new[] { 3, 7, 37 };
        var composed = Run(layer, false, shape, xGrad);
        var fused = Run(layer, true, shape, xGrad);
        AssertSame(fused, composed);
        AssertFusedRan(fused, dropout > 0);
        Assert.That(fused.Kernels.Select(k => k.Kernel), Does.Contain("lora_up_backward").And.Contain("lora_down_backward"));
        // Without dropout dX's GEMM carries the low-rank term; with it the term needs the mask and stays in the gA pass.
        if (xGrad)
            Assert.That(fused.Kernels.Select(k => k.Kernel), dropout == 0f ? Does.Contain("gemm_lora_dx") : Does.Not.Contain("gemm_lora_dx"));
        Assert.That(composed.Kernels.Select(k => k.Kernel), Has.None.StartsWith("lora_"), "the composed path uses no fused kernel");
        if (dropout > 0) Assert.That(composed.Kernels.Select(k => k.Kernel), Does.Contain("random_uniform"));
    }

    [Test]
    public void Fused_matches_composed_for_odd_shapes_without_bias_and_large_features(
        [Values(1, 5, 33)] int tokens, [Values(3, 70, 257)] int features)
    {
        using var layer = Layer(features, features + 2, 8, 0.1f, bias: false);
        AssertSame(Run(layer, true, new[] { tokens, features }, true), Run(layer, false, new[] { tokens, features }, true));
    }

    [Test]
    public void Eval_mode_draws_no_dropout_and_matches_composed()
    {
        using var layer = Layer(37, 29, 8, 0.1f);
        layer.Eval();
        var fused = Run(layer, true, new[] { 9, 37 }, true);
        AssertSame(fused, Run(layer, false, new[] { 9, 37 }, true));
        AssertFusedRan(fused, dropoutDrawn: false);
        Assert.That(fused.Kernels.Any(k => k.Shape.EndsWith("drop")), Is.False, "eval draws no dropout");
    }

    [Test]
    public void No_grad_forward_matches_composed_and_runs_no_backward()
    {
        using var layer = Layer(37, 29, 4, 0.1f);
        using var noGrad = GradMode.NoGrad();
        var fused = Run(layer, true, new[] { 11, 37 }, false);
        FusedParity.AssertClose(fused.Y, Run(layer, false, new[] { 11, 37 }, false).Y, "y");
        Assert.That(fused.Kernels.Select(k => k.Kernel), Has.None.EndsWith("_backward"));
    }

    [Test]
    public void Merged_layer_runs_the_base_only_and_matches_the_unmerged_fused_layer()
    {
        using var layer = Layer(37, 29, 8, 0f);
        layer.Eval();
        using var noGrad = GradMode.NoGrad();
        var unmerged = Run(layer, true, new[] { 5, 37 }, false);
        layer.Merge();
        var merged = Run(layer, true, new[] { 5, 37 }, false);
        FusedParity.AssertClose(merged.Y, unmerged.Y, "merged y");
        Assert.That(merged.Kernels.Select(k => k.Kernel), Has.None.StartsWith("lora_"));
        layer.Unmerge();
    }

    [Test]
    public void RsLora_scale_runs_fused_and_matches_composed()
    {
        var g = new Generator(3);
        var config = new LoraConfig { Rank = 16, Alpha = 8, UseRsLora = true };
        using var layer = new LoraLinear(new Linear(37, 29, true, g), config.Rank, config.Scale, 0.1f, new Generator(23));
        using (var b = Tensor.Normal(new[] { 29, 16 }, 0f, 0.5f, g)) layer.LoraB.Weight.CopyFrom(b);
        Assert.That(layer.Scale, Is.EqualTo(8f / 4f));
        var fused = Run(layer, true, new[] { 13, 37 }, true);
        AssertSame(fused, Run(layer, false, new[] { 13, 37 }, true));
        AssertFusedRan(fused, true);
    }

    [Test]
    public void Dora_stays_composed_when_fused_is_asked_for()
    {
        using var layer = new LoraLinear(new Linear(37, 29, true, new Generator(3)), 4, 2f, 0f, new Generator(23), useDora: true);
        var o = Run(layer, true, new[] { 5, 37 }, true);
        Assert.That(o.Kernels.Select(k => k.Kernel), Has.None.StartsWith("lora_"));
    }

    [Test]
    public void Fused_op_matches_finite_differences_with_dropout()
    {
        var g = new Generator(8);
        var inputs = new[]
        {
            Tensor.Normal(new[] { 6, 9 }, 0f, 1f, g), Tensor.Normal(new[] { 7, 9 }, 0f, 0.3f, g), Tensor.Normal(new[] { 7 }, 0f, 0.3f, g),
            Tensor.Normal(new[] { 3, 9 }, 0f, 0.3f, g), Tensor.Normal(new[] { 7, 3 }, 0f, 0.3f, g),
        };
        foreach (var t in inputs) t.RequiresGrad = true;
        GradCheck.Assert(t => Tensor.LoraLinear(t[0], t[1], t[2], t[3], t[4], 1.5f, 0.3f, new Generator(4)), inputs, what: "lora_linear");
    }

    [Test]
    public void Bad_shapes_and_dropout_are_rejected_with_the_shapes_named()
    {
        using var x = Tensor.Zeros(4, 9);
        using var w = Tensor.Zeros(7, 9);
        using var a = Tensor.Zeros(3, 9);
        using var b = Tensor.Zeros(7, 3);
        using var badA = Tensor.Zeros(3, 8);
        using var badB = Tensor.Zeros(7, 2);
        Assert.That(() => Tensor.LoraLinear(x, w, null, badA, b, 1f), Throws.ArgumentException.With.Message.Contains("lora_A [3, 8]"));
        Assert.That(() => Tensor.LoraLinear(x, w, null, a, badB, 1f), Throws.ArgumentException.With.Message.Contains("lora_B [7, 2]"));
        Assert.That(() => Tensor.LoraLinear(x, w, null, a, b, 1f, 1f), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("dropout"));
    }

    [Test]
    public void Config_defaults_to_fused_and_the_injection_passes_the_switch_on([Values(true, false)] bool fused)
    {
        Assert.That(new LoraConfig().Fused, Is.True);
        var tiny = new BertConfig { VocabSize = 20, HiddenSize = 8, NumLayers = 1, NumHeads = 2, IntermediateSize = 16, MaxPositions = 8 };
        using var model = new BertForSequenceClassification(tiny, 2, generator: new Generator(1));
        var peft = PeftApi.Apply(model, new LoraConfig { Rank = 2, Fused = fused });
        Assert.That(peft.Layers<LoraLinear>().Select(l => l.Fused), Is.All.EqualTo(fused));
        Assert.That(new LoraConfig { Fused = fused }.ToJson(), Does.Not.Contain("fused"), "adapter_config.json stays in PEFT's layout");
    }
}
