using Finetune.Kernels.Cpu;
using Finetune.Kernels.Profiling;
using Finetune.Nn;

namespace Finetune.Tests.Tensors;

/// <summary>The fused GEMM epilogue op against its composed twin, finite differences and itself at other thread counts.</summary>
[TestFixture]
public class LinearEpilogueTests
{
    private static readonly (int Rows, int In, int Out)[] OddSizes = [(1, 1, 1), (5, 7, 6), (7, 13, 31), (33, 70, 65), (130, 31, 17),
        (67, 600, 45), (16, 16, 16), (3, 300, 70)];

    [TearDown]
    public void Restore() => CpuParallel.Threads = Environment.ProcessorCount;

    private static Tensor Random(int seed, float scale, params int[] shape)
    {
        var t = Tensor.Uniform(shape, -scale, scale, new Generator((ulong)seed));
        t.RequiresGrad = true;
        return t;
    }

    /// <summary>residual + drop(act(x·Wᵀ + b)) from the composed ops, the dropout drawn from a fresh generator of seed 9.</summary>
    private static Tensor Composed(Tensor x, Tensor w, Tensor? b, bool gelu, float p, Tensor? residual)
    {
        var z = Tensor.Linear(x, w, b);
        if (gelu) z = z.Gelu();
        z = z.Dropout(p, training: p > 0, new Generator(9));
        return residual is null ? z : residual + z;
    }

    private static Tensor Fused(Tensor x, Tensor w, Tensor? b, bool gelu, float p, Tensor? residual) =>
        Tensor.LinearEpilogue(x, w, b, gelu ? EpilogueActivation.GeluErf : EpilogueActivation.None, p, new Generator(9), residual);

    /// <summary>Output and every input gradient of <paramref name="f"/> for a fixed output gradient.</summary>
    private static List<float[]> Run(Func<Tensor, Tensor, Tensor?, Tensor?, Tensor> f, int rows, int inF, int outF, bool bias,
        bool residual)
    {
        using var scope = TensorScope.Begin();
        var x = Random(1, 1f, 2, rows, inF);
        var w = Random(2, 1f / MathF.Sqrt(inF), outF, inF);
        var b = bias ? Random(3, 0.5f, outF) : null;
        var r = residual ? Random(4, 1f, 2, rows, outF) : null;
        var y = f(x, w, b, r);
        var g = Tensor.Uniform(new[] { 2, rows, outF }, -1f, 1f, new Generator(5));
        y.Backward(g);
        var all = new List<float[]> { y.ToArray(), x.Grad!.ToArray(), w.Grad!.ToArray() };
        if (b is not null) all.Add(b.Grad!.ToArray());
        if (r is not null) all.Add(r.Grad!.ToArray());
        return all;
    }

    private static void AssertClose(List<float[]> actual, List<float[]> expected, double rtol, string what)
    {
        Assert.That(actual, Has.Count.EqualTo(expected.Count));
        string[] names = ["output", "dX", "dW", "db or dResidual", "dResidual"];
        for (int i = 0; i < actual.Count; i++)
        {
            double scale = Math.Max(1e-6, expected[i].Max(v => Math.Abs((double)v)));
            double worst = actual[i].Zip(expected[i], (a, e) => Math.Abs((double)a - e)).Max();
            Assert.That(worst / scale, Is.LessThanOrEqualTo(rtol), $"{what}: {names[i]} differs by {worst:G3} (scale {scale:G3})");
        }
    }

    private static IEnumerable<TestCaseData> Variants()
    {
        foreach (bool gelu in new[] { true, false })
            foreach (float p in new[] { 0f, 0.3f })
                foreach (bool residual in new[] { true, false })
                    yield return new TestCaseData(gelu, p, residual).SetArgDisplayNames($"{(gelu ? "gelu" : "none")} p{p} "
                        + (residual ? "residual" : "no residual"));
    }

    [TestCaseSource(nameof(Variants))]
    public void Fused_equals_composed_at_odd_sizes(bool gelu, float p, bool residual)
    {
        foreach (var (rows, inF, outF) in OddSizes)
            foreach (bool bias in new[] { true, false })
            {
                var fused = Run((x, w, b, r) => Fused(x, w, b, gelu, p, r), rows, inF, outF, bias, residual);
                var composed = Run((x, w, b, r) => Composed(x, w, b, gelu, p, r), rows, inF, outF, bias, residual);
                AssertClose(fused, composed, 1e-5, $"[2×{rows}, {inF}]→{outF} bias {bias}");
            }
    }

    [TestCaseSource(nameof(Variants))]
    public void Backward_matches_finite_differences(bool gelu, float p, bool residual)
    {
        var x = Random(1, 1f, 2, 3, 7);
        var w = Random(2, 0.5f, 6, 7);
        var b = Random(3, 0.5f, 6);
        var inputs = residual ? new[] { x, w, b, Random(4, 1f, 2, 3, 6) } : new[] { x, w, b };
        GradCheck.Assert(t => Fused(t[0], t[1], t[2], gelu, p, residual ? t[3] : null), inputs, what: "linear_epilogue");
    }

    [Test]
    public void Dropout_drops_the_elements_the_composed_dropout_drops_and_reserves_the_same_counters()
    {
        using var scope = TensorScope.Begin();
        var x = Random(1, 1f, 37, 19);
        var w = Random(2, 1f, 23, 19);
        var g1 = new Generator(4) { Offset = 3 };
        var g2 = new Generator(4) { Offset = 3 };
        var fused = Tensor.LinearEpilogue(x, w, null, EpilogueActivation.None, 0.5f, g1).ToArray();
        var composed = Tensor.Linear(x, w).Dropout(0.5f, true, g2).ToArray();
        Assert.That(fused.Select(v => v == 0f), Is.EqualTo(composed.Select(v => v == 0f)));
        Assert.That(g1.Offset, Is.EqualTo(g2.Offset));
    }

    [Test]
    public void Without_a_graph_no_pre_activation_is_kept_and_eval_draws_nothing()
    {
        using var scope = TensorScope.Begin();
        var x = Random(1, 1f, 9, 8);
        var w = Random(2, 1f, 12, 8);
        var g = new Generator(1);
        using (GradMode.NoGrad())
        {
            var y = Tensor.LinearEpilogue(x, w, null, EpilogueActivation.GeluErf, 0f, g);
            Assert.That(y.RequiresGrad, Is.False);
            Assert.That(y.ToArray(), Is.EqualTo(Tensor.Linear(x, w).Gelu().ToArray()).Within(1e-6f));
        }
        Assert.That(g.Offset, Is.EqualTo(0UL));
    }

    [Test]
    public void Shapes_and_probability_are_checked_at_the_door()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.Zeros(4, 8);
        var w = Tensor.Zeros(5, 8);
        var e = Assert.Throws<ArgumentException>(() => Tensor.LinearEpilogue(x, w, null, residual: Tensor.Zeros(4, 6)))!;
        Assert.That(e.Message, Does.Contain("linear_epilogue").And.Contain("residual"));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.LinearEpilogue(x, w, null, dropout: 1f));
        Assert.Throws<ArgumentException>(() => Tensor.LinearEpilogue(x, Tensor.Zeros(5, 7), null));
    }

    private static BertLayer SmallLayer(bool preLayerNorm, float dropout)
    {
        var config = new BertConfig
        {
            VocabSize = 50, HiddenSize = 24, NumLayers = 1, NumHeads = 2, IntermediateSize = 37, MaxPositions = 16,
            HiddenDropout = dropout, AttentionDropout = dropout, PreLayerNorm = preLayerNorm, InitializerRange = 0.3f,
        };
        var layer = new BertLayer(config, new Generator(21));
        foreach (var (_, p) in layer.NamedParameters())
            if (p.Value.Rank == 1)
                using (GradMode.NoGrad())
                    p.Value.AddInPlace(Tensor.Uniform(p.Value.Shape.ToArray(), -0.2f, 0.2f, new Generator(22)));
        return layer;
    }

    /// <summary>The layer's output and every parameter gradient, with the dropout streams restarted at seed 8.</summary>
    private static List<float[]> LayerRun(BertLayer layer, bool fused, bool training)
    {
        layer.FusedEpilogues = fused;
        layer.Train(training);
        var g = new Generator(8);
        foreach (var (_, m) in layer.NamedModules())
            if (m is Dropout d) d.Generator = g;
        foreach (var p in layer.Parameters()) p.Value.ZeroGrad();
        using var scope = TensorScope.Begin();
        var x = Tensor.Uniform(new[] { 3, 11, 24 }, -1f, 1f, new Generator(30));
        x.RequiresGrad = true;
        var y = layer.Forward(x, null);
        y.Backward(Tensor.Uniform(new[] { 3, 11, 24 }, -1f, 1f, new Generator(31)));
        var all = new List<float[]> { y.ToArray(), x.Grad!.ToArray() };
        all.AddRange(layer.Parameters().Select(p => p.Grad!.ToArray()));
        return all;
    }

    [TestCase(false, 0.1f, true)]
    [TestCase(false, 0.1f, false)]
    [TestCase(true, 0.1f, true)]
    [TestCase(true, 0f, true)]
    public void Bert_layer_fused_equals_composed(bool preLayerNorm, float dropout, bool training)
    {
        var layer = SmallLayer(preLayerNorm, dropout);
        var fused = LayerRun(layer, true, training);
        var composed = LayerRun(layer, false, training);
        double largest = composed.Max(t => t.Max(v => Math.Abs((double)v)));
        for (int i = 0; i < fused.Count; i++)
        {
            // The key bias's gradient is zero up to rounding (softmax ignores a shift per row): judge it on the layer's scale.
            double scale = Math.Max(1e-2 * largest, composed[i].Max(v => Math.Abs((double)v)));
            double worst = fused[i].Zip(composed[i], (a, e) => Math.Abs((double)a - e)).Max();
            Assert.That(worst / scale, Is.LessThanOrEqualTo(1e-5), $"tensor {i} (0 output, 1 dX, then parameters)");
        }
    }

    [Test]
    public void Fused_layer_repeats_bit_for_bit_at_one_and_two_threads()
    {
        var layer = SmallLayer(false, 0.1f);
        CpuParallel.Threads = 1;
        var one = LayerRun(layer, true, true);
        CpuParallel.Threads = 2;
        var two = LayerRun(layer, true, true);
        for (int i = 0; i < one.Count; i++) Assert.That(two[i], Is.EqualTo(one[i]), $"tensor {i}");
    }

    [Test]
    public void Fused_op_at_training_size_repeats_bit_for_bit_at_one_and_two_threads()
    {
        List<float[]> At(int threads)
        {
            CpuParallel.Threads = threads;
            return Run((x, w, b, r) => Fused(x, w, b, true, 0.1f, r), 200, 96, 160, true, true);
        }
        var one = At(1);
        var two = At(2);
        for (int i = 0; i < one.Count; i++) Assert.That(two[i], Is.EqualTo(one[i]), $"tensor {i}");
    }

    [Test]
    public void Profile_shows_the_fused_kernels_and_the_composed_switch_removes_them()
    {
        var layer = SmallLayer(false, 0.1f);
        string[] Kernels(bool fused)
        {
            using var profiler = KernelProfiler.Start();
            LayerRun(layer, fused, true);
            return profiler.Records.Select(r => r.Kernel).Distinct().ToArray();
        }
        var fusedKernels = Kernels(true);
        Assert.That(fusedKernels, Does.Contain("gemm_bias_gelu").And.Contain("gemm_bias_dropout_residual").And.Contain("dropout_backward"));
        var composedKernels = Kernels(false);
        // Every Linear adds its bias as an epilogue ("gemm_bias"); the composed switch removes the activation, dropout and residual ones.
        Assert.That(composedKernels.Where(k => k.StartsWith("gemm_bias_", StringComparison.Ordinal)), Is.Empty);
        Assert.That(composedKernels, Does.Contain("gemm_bias"));
        Assert.That(composedKernels, Does.Contain("geluerf"));
    }
}
