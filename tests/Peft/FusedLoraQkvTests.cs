using Finetune.Autograd;
using Finetune.Kernels.Profiling;
using Finetune.Nn;
using Finetune.Peft.Lora;
using PeftApi = Finetune.Peft.PeftModel;

namespace Finetune.Tests.Peft;

/// <summary>
/// The fused QKV form (<see cref="Tensor.LoraQkv"/>: one pass over x for the three LoRA down-projections, one dX) against
/// three separate fused layers and against the composed path, on the same weights and the same dropout streams: forward
/// and every gradient within 1e-5 relative; self-attention with LoRA on query, key and value runs it.
/// </summary>
public class FusedLoraQkvTests
{
    private sealed record Outcome(float[][] Y, float[]? GradX, float[][] GradA, float[][] GradB, IReadOnlyList<KernelRecord> Kernels);

    private enum Path { Qkv, ThreeFused, Composed }

    /// <summary>Query, key and value layers drawing from one generator, as an injection builds them.</summary>
    private static LoraLinear[] Layers(int inF, int outF, int rank, float dropout)
    {
        var g = new Generator(11);
        var shared = new Generator(23);
        return Enumerable.Range(0, 3).Select(_ =>
        {
            var layer = new LoraLinear(new Linear(inF, outF, true, g), rank, 16f / rank, dropout, shared);
            using var b = Tensor.Normal(new[] { outF, rank }, 0f, 0.5f, g);
            layer.LoraB.Weight.CopyFrom(b);
            return layer;
        }).ToArray();
    }

    /// <summary>One forward and backward of Σ_p sum(y_p ∘ w_p) with the shared dropout stream rewound.</summary>
    private static Outcome Run(LoraLinear[] layers, Path path, int[] inputShape, bool xGrad)
    {
        using var scope = TensorScope.Begin();
        foreach (var layer in layers)
        {
            layer.Fused = path != Path.Composed;
            layer.ZeroGrad();
        }
        var dropout = (Dropout)layers[0].NamedChildren().First(c => c.Key == "lora_dropout").Value;
        dropout.Generator!.Offset = 0;
        var x = Tensor.Normal(inputShape, 0f, 1f, new Generator(5));
        x.RequiresGrad = xGrad;
        using var profiler = KernelProfiler.Start();
        var ys = path == Path.Qkv
            ? Tensor.LoraQkv(x, layers[0].FusedProjection(x.Device)!, layers[1].FusedProjection(x.Device)!,
                layers[2].FusedProjection(x.Device)!)
            : layers.Select(l => l.Forward(x)).ToArray();
        if (GradMode.IsEnabled && ys[0].RequiresGrad)
        {
            var loss = ys.Select((y, p) => (y * Tensor.Normal(y.Shape.ToArray(), 0f, 1f, new Generator((ulong)(7 + p)))).Sum())
                .Aggregate((a, b) => a + b);
            loss.Backward();
        }
        return new Outcome(ys.Select(y => y.ToArray()).ToArray(), xGrad ? x.Grad!.ToArray() : null,
            layers.Select(l => l.LoraA.Weight.Grad?.ToArray() ?? Array.Empty<float>()).ToArray(),
            layers.Select(l => l.LoraB.Weight.Grad?.ToArray() ?? Array.Empty<float>()).ToArray(), profiler.Records.ToList());
    }

    private static void AssertSame(Outcome actual, Outcome expected, string against)
    {
        for (int p = 0; p < 3; p++)
        {
            FusedParity.AssertClose(actual.Y[p], expected.Y[p], $"y[{p}] vs {against}");
            FusedParity.AssertClose(actual.GradA[p], expected.GradA[p], $"dA[{p}] vs {against}");
            FusedParity.AssertClose(actual.GradB[p], expected.GradB[p], $"dB[{p}] vs {against}");
        }
        if (expected.GradX is not null) FusedParity.AssertClose(actual.GradX!, expected.GradX, $"dX vs {against}");
    }

    [Test]
    public void Qkv_matches_three_fused_layers_and_the_composed_path(
        [Values(1, 4, 8, 16, 64)] int rank, [Values(0f, 0.1f)] float dropout, [Values(true, false)] bool xGrad)
    {
        var layers = Layers(37, 29, rank, dropout);
        var shape = new[] { 3, 7, 37 };
        var qkv = Run(layers, Path.Qkv, shape, xGrad);
        AssertSame(qkv, Run(layers, Path.ThreeFused, shape, xGrad), "three fused layers");
        AssertSame(qkv, Run(layers, Path.Composed, shape, xGrad), "composed");
        var names = qkv.Kernels.Select(k => k.Kernel).ToList();
        Assert.That(names.Count(n => n == "lora_down_qkv"), Is.EqualTo(1), "one down-projection pass for the three");
        Assert.That(names.Count(n => n == "lora_down_backward_qkv"), Is.EqualTo(1), "one backward pass over x for the three");
        Assert.That(names.Count(n => n == "gemm_lora_up"), Is.EqualTo(3), "each base GEMM carries its low-rank product");
        Assert.That(names.Count(n => n == "gemm_lora_dx"), Is.EqualTo(xGrad && dropout == 0f ? 3 : 0), "dX's GEMMs carry theirs without dropout");
        Assert.That(names, Does.Not.Contain("lora_down").And.Not.Contain("lora_down_backward").And.Not.Contain("random_uniform"));
        Assert.That(qkv.Kernels.Where(k => k.Kernel == "add" && k.Flops >= 3 * 7 * 37), Is.Empty,
            "dX is accumulated in the GEMMs, not summed afterwards (the loss's scalar adds aside)");
        foreach (var l in layers) l.Dispose();
    }

    [Test]
    public void Qkv_matches_for_odd_shapes([Values(1, 5, 33)] int tokens, [Values(3, 70)] int features)
    {
        var layers = Layers(features, features + 2, 8, 0.1f);
        AssertSame(Run(layers, Path.Qkv, new[] { tokens, features }, true), Run(layers, Path.Composed, new[] { tokens, features }, true),
            "composed");
        foreach (var l in layers) l.Dispose();
    }

    [Test]
    public void Eval_and_no_grad_draw_no_dropout_and_match()
    {
        var layers = Layers(37, 29, 8, 0.1f);
        foreach (var l in layers) l.Eval();
        var qkv = Run(layers, Path.Qkv, new[] { 9, 37 }, true);
        AssertSame(qkv, Run(layers, Path.Composed, new[] { 9, 37 }, true), "composed (eval)");
        Assert.That(qkv.Kernels.Any(k => k.Shape.EndsWith("drop")), Is.False, "eval draws no dropout");
        foreach (var l in layers) l.Train();
        using (GradMode.NoGrad())
        {
            var fused = Run(layers, Path.Qkv, new[] { 9, 37 }, false);
            var three = Run(layers, Path.ThreeFused, new[] { 9, 37 }, false);
            for (int p = 0; p < 3; p++) FusedParity.AssertClose(fused.Y[p], three.Y[p], $"y[{p}] without grad");
            Assert.That(fused.Kernels.Select(k => k.Kernel), Has.None.EndsWith("_backward"));
        }
        foreach (var l in layers) l.Dispose();
    }

    [Test]
    public void Only_some_outputs_in_the_loss_still_give_exact_gradients()
    {
        var layers = Layers(12, 12, 4, 0.1f);
        float[] GradX(bool fused)
        {
            using var scope = TensorScope.Begin();
            foreach (var l in layers) l.ZeroGrad();
            ((Dropout)layers[0].NamedChildren().First(c => c.Key == "lora_dropout").Value).Generator!.Offset = 0;
            var x = Tensor.Normal(new[] { 5, 12 }, 0f, 1f, new Generator(5));
            x.RequiresGrad = true;
            var ys = fused ? Tensor.LoraQkv(x, layers[0].FusedProjection(x.Device)!, layers[1].FusedProjection(x.Device)!,
                layers[2].FusedProjection(x.Device)!) : layers.Select(l => l.Forward(x)).ToArray();
            (ys[1] * ys[1]).Sum().Backward();
            return x.Grad!.ToArray();
        }
        FusedParity.AssertClose(GradX(true), GradX(false), "dX through the key only");
        foreach (var l in layers) l.Dispose();
    }

    [Test]
    public void Qkv_op_matches_finite_differences_with_dropout()
    {
        var g = new Generator(8);
        Tensor N(params int[] shape) => Tensor.Normal(shape, 0f, 0.3f, g);
        var inputs = new[]
        {
            Tensor.Normal(new[] { 5, 6 }, 0f, 1f, g), N(4, 6), N(4), N(2, 6), N(4, 2), N(4, 6), N(3, 6), N(4, 3), N(4, 6), N(1, 6), N(4, 1),
        };
        foreach (var t in inputs) t.RequiresGrad = true;
        GradCheck.Assert(t =>
        {
            var gen = new Generator(4);
            var ys = Tensor.LoraQkv(t[0], new LoraProjection(t[1], t[2], t[3], t[4], 1.5f, 0.3f, gen),
                new LoraProjection(t[5], null, t[6], t[7], 0.5f, 0.2f, gen), new LoraProjection(t[8], null, t[9], t[10], 2f, 0f, gen));
            return ys[0] + ys[1] * 2f + ys[2] * 3f;
        }, inputs, what: "lora_qkv");
    }

    [Test]
    public void Bert_with_lora_on_query_key_and_value_runs_the_qkv_kernels_and_matches_separate_layers(
        [Values("query,key,value", "query,value")] string targets)
    {
        var tiny = new BertConfig
        {
            VocabSize = 30, HiddenSize = 16, NumLayers = 2, NumHeads = 2, IntermediateSize = 32, MaxPositions = 16,
        };
        var ids = Tensor.FromArray(Enumerable.Range(0, 12).Select(i => (i * 7) % 30).ToArray(), 2, 6);
        var mask = Tensor.FromArray(Enumerable.Range(0, 12).Select(i => i == 11 ? 0f : 1f).ToArray(), 2, 6);
        (float[] Logits, float[] Grads, IReadOnlyList<KernelRecord> Kernels) Step(bool qkv)
        {
            using var scope = TensorScope.Begin();
            using var model = new BertForSequenceClassification(tiny, 2, generator: new Generator(1));
            var peft = PeftApi.Apply(model, new LoraConfig { Rank = 4, Dropout = 0.1f, TargetModules = targets.Split(',') });
            foreach (var l in peft.Layers<LoraLinear>())
            {
                l.FusedQkv = qkv;
                using var b = Tensor.Normal(new[] { l.BaseLayer.OutFeatures, 4 }, 0f, 0.3f, new Generator(9));
                l.LoraB.Weight.CopyFrom(b);
            }
            model.Train();
            model.AssignProfilePaths();
            using var profiler = KernelProfiler.Start();
            var logits = model.Forward(ids, mask);
            logits.Sum().Backward();
            var grads = peft.Layers<LoraLinear>().SelectMany(l => l.LoraA.Weight.Grad!.ToArray().Concat(l.LoraB.Weight.Grad!.ToArray()));
            return (logits.ToArray(), grads.ToArray(), profiler.Records.ToList());
        }
        var fused = Step(true);
        var separate = Step(false);
        FusedParity.AssertClose(fused.Logits, separate.Logits, "logits");
        FusedParity.AssertClose(fused.Grads, separate.Grads, "LoRA gradients");
        var names = fused.Kernels.Select(k => k.Kernel).ToList();
        bool all = targets == "query,key,value";
        Assert.That(names.Count(n => n == "lora_down_qkv"), Is.EqualTo(all ? 2 : 0), "one QKV pass per layer when all three carry LoRA");
        Assert.That(names.Count(n => n == "lora_down_backward_qkv"), Is.EqualTo(all ? 2 : 0));
        Assert.That(separate.Kernels.Select(k => k.Kernel), Has.None.EqualTo("lora_down_qkv"));
        if (all)
            Assert.That(fused.Kernels.Where(k => k.Kernel == "lora_down_qkv").Select(k => k.Scope),
                Is.All.EndsWith("attention.self"), "the QKV kernel is attributed to self-attention");
    }
}
