using Finetune.Autograd;
using Finetune.Kernels.Profiling;
using Finetune.Nn;
using Finetune.Peft.Adapters;

namespace Finetune.Tests.Peft;

/// <summary>The fused bottleneck adapter (version 2) against the composed Linear, activation, scale and add (version 1).</summary>
public class FusedAdapterTests
{
    private sealed record Outcome(float[] Y, float[] GradIn, float[] GradOut, float[][] ParamGrads, IReadOnlyList<KernelRecord> Kernels, int ForwardKernels);

    private static Outcome Run(BottleneckAdapter adapter, bool fused, bool sameInput)
    {
        using var scope = TensorScope.Begin();
        adapter.Fused = fused;
        adapter.ZeroGrad();
        var input = Tensor.Normal(new[] { 3, 7, 24 }, 0f, 1f, new Generator(5));
        var output = sameInput ? input : Tensor.Normal(new[] { 3, 7, 24 }, 0f, 1f, new Generator(6));
        input.RequiresGrad = true;
        output.RequiresGrad = true;
        using var profiler = KernelProfiler.Start();
        var y = adapter.Forward(input, output);
        int forwardKernels = profiler.Records.Count;
        (y * Tensor.Normal(y.Shape.ToArray(), 0f, 1f, new Generator(7))).Sum().Backward();
        return new Outcome(y.ToArray(), input.Grad!.ToArray(), output.Grad!.ToArray(),
            adapter.Parameters().Select(p => p.Grad!.ToArray()).ToArray(), profiler.Records.ToList(), forwardKernels);
    }

    [Test]
    public void Fused_adapter_matches_composed_forward_and_gradients(
        [Values(false, true)] bool parallel, [Values("relu", "gelu")] string activation, [Values(1f, 4f)] float scaling)
    {
        using var adapter = new BottleneckAdapter(24, 5, parallel, scaling, activation, new Generator(3));
        using (var up = Tensor.Normal(new[] { 24, 5 }, 0f, 0.5f, new Generator(4))) adapter.Parameters().ElementAt(2).CopyFrom(up);
        using (var upBias = Tensor.Normal(new[] { 24 }, 0f, 0.5f, new Generator(8))) adapter.Parameters().ElementAt(3).CopyFrom(upBias);
        var composed = Run(adapter, false, sameInput: !parallel);
        var fused = Run(adapter, true, sameInput: !parallel);
        FusedParity.AssertClose(fused.Y, composed.Y, "y");
        FusedParity.AssertClose(fused.GradIn, composed.GradIn, "d input");
        FusedParity.AssertClose(fused.GradOut, composed.GradOut, "d output");
        for (int i = 0; i < fused.ParamGrads.Length; i++)
            FusedParity.AssertClose(fused.ParamGrads[i], composed.ParamGrads[i], $"parameter {i}");
        // The fused forward adds bias, scale and residual inside the up GEMM: one add of [tokens, hidden] (the residual
        // plus the scaled bias), and no pass that scales or adds the adapter's output on its own.
        long tokensByHidden = 3 * 7 * 24;
        var fusedForward = fused.Kernels.Take(fused.ForwardKernels).ToList();
        Assert.That(fusedForward.Count(k => k.Kernel == "add" && k.Flops == tokensByHidden), Is.EqualTo(1), "fused: residual + s·bu only");
        Assert.That(fused.Kernels.Count(k => k.Kernel is "scale" or "scale_backward" && k.Flops >= tokensByHidden), Is.Zero);
        Assert.That(composed.Kernels.Count(k => k.Kernel == "add" && k.Flops == tokensByHidden), Is.GreaterThanOrEqualTo(1));
        if (scaling != 1f) Assert.That(composed.Kernels.Any(k => k.Kernel == "scale" && k.Flops == tokensByHidden), "composed scales its output");
    }

    [Test]
    public void Fused_adapter_op_matches_finite_differences()
    {
        var g = new Generator(8);
        int[][] shapes = { new[] { 4, 6 }, new[] { 4, 5 }, new[] { 3, 6 }, new[] { 3 }, new[] { 5, 3 }, new[] { 5 } };
        var inputs = shapes.Select(s => Tensor.Normal(s, 0f, 0.7f, g)).ToArray();
        foreach (var t in inputs) t.RequiresGrad = true;
        GradCheck.Assert(t => Tensor.BottleneckAdapter(t[0], t[1], t[2], t[3], t[4], t[5], 1.7f, true), inputs, what: "bottleneck_adapter");
    }

    [Test]
    public void Adapter_shapes_that_do_not_fit_are_named()
    {
        using var z = Tensor.Zeros(4, 6);
        using var wd = Tensor.Zeros(3, 6);
        using var bd = Tensor.Zeros(3);
        using var wu = Tensor.Zeros(6, 3);
        using var bu = Tensor.Zeros(6);
        using var badResidual = Tensor.Zeros(4, 5);
        using var badUp = Tensor.Zeros(6, 2);
        Assert.That(() => Tensor.BottleneckAdapter(z, badResidual, wd, bd, wu, bu, 1f, false), Throws.ArgumentException.With.Message.Contains("residual [4, 5]"));
        Assert.That(() => Tensor.BottleneckAdapter(z, z, wd, bd, badUp, bu, 1f, false), Throws.ArgumentException.With.Message.Contains("up weight [6, 2]"));
    }

    [Test]
    public void Config_switch_reaches_every_adapter_and_stays_out_of_the_json([Values(true, false)] bool fused)
    {
        var tiny = new BertConfig { VocabSize = 20, HiddenSize = 8, NumLayers = 2, NumHeads = 2, IntermediateSize = 16, MaxPositions = 8 };
        using var model = new BertForSequenceClassification(tiny, 2, generator: new Generator(1));
        var config = new BottleneckConfig { ReductionFactor = 4, Fused = fused };
        Finetune.Peft.PeftModel.Apply(model, config);
        var adapters = model.NamedModules().Select(m => m.Value).OfType<BottleneckAdapter>().ToList();
        Assert.That(adapters, Has.Count.EqualTo(4));
        Assert.That(adapters.Select(a => a.Fused), Is.All.EqualTo(fused));
        Assert.That(config.ToJson(), Does.Not.Contain("fused"));
    }
}
