using Finetune;
using NUnit.Framework;

namespace Finetune.Tests.Tensors;

/// <summary>Every differentiable op against float64 central differences, on random shapes, with broadcasting and non-contiguous inputs.</summary>
public class GradientTests
{
    private static Generator _gen = new(7);

    [SetUp]
    public void Seed() => _gen = new Generator(7);

    private static Tensor Leaf(params int[] shape) => Leaf(-1f, 1f, shape);

    private static Tensor Leaf(float low, float high, params int[] shape)
    {
        var t = Tensor.Uniform(shape, low, high, _gen).Keep();
        t.RequiresGrad = true;
        return t;
    }

    /// <summary>Values bounded away from zero (for log, sqrt, div, pow, abs, relu kinks).</summary>
    private static Tensor Positive(params int[] shape) => Leaf(0.5f, 2f, shape);

    private static void Check(string what, Func<Tensor[], Tensor> f, params Tensor[] inputs)
    {
        try
        {
            GradCheck.Assert(f, inputs, what: what);
        }
        finally
        {
            foreach (var x in inputs) x.Dispose();
        }
    }

    /// <summary>Pushes elements away from relu/abs kinks so finite differences do not straddle them.</summary>
    private static Tensor AwayFromZero(params int[] shape)
    {
        var values = Tensor.Uniform(shape, 0.2f, 1f, _gen).ToArray();
        for (int i = 0; i < values.Length; i += 2) values[i] = -values[i];
        var t = Tensor.FromArray(values, shape).Keep();
        t.RequiresGrad = true;
        return t;
    }

    public static IEnumerable<TestCaseData> Unary()
    {
        yield return new TestCaseData("neg", (Func<Tensor, Tensor>)(x => x.Neg()), false);
        yield return new TestCaseData("exp", (Func<Tensor, Tensor>)(x => x.Exp()), false);
        yield return new TestCaseData("log", (Func<Tensor, Tensor>)(x => x.Log()), true);
        yield return new TestCaseData("sqrt", (Func<Tensor, Tensor>)(x => x.Sqrt()), true);
        yield return new TestCaseData("rsqrt", (Func<Tensor, Tensor>)(x => x.Rsqrt()), true);
        yield return new TestCaseData("tanh", (Func<Tensor, Tensor>)(x => x.Tanh()), false);
        yield return new TestCaseData("sigmoid", (Func<Tensor, Tensor>)(x => x.Sigmoid()), false);
        yield return new TestCaseData("gelu_erf", (Func<Tensor, Tensor>)(x => x.Gelu()), false);
        yield return new TestCaseData("gelu_tanh", (Func<Tensor, Tensor>)(x => x.Gelu(tanhApproximation: true)), false);
        yield return new TestCaseData("scale", (Func<Tensor, Tensor>)(x => x.Scale(-2.5f)), false);
        yield return new TestCaseData("pow2", (Func<Tensor, Tensor>)(x => x.Pow(2f)), false);
        yield return new TestCaseData("pow1.5", (Func<Tensor, Tensor>)(x => x.Pow(1.5f)), true);
        yield return new TestCaseData("add_scalar", (Func<Tensor, Tensor>)(x => x + 3f), false);
    }

    [TestCaseSource(nameof(Unary))]
    public void Backward_of_unary_op_matches_finite_differences(string name, Func<Tensor, Tensor> op, bool positive)
    {
        // 37 elements: exercises both the 8-wide loop and the scalar tail.
        Check(name, xs => op(xs[0]), positive ? Positive(37) : Leaf(37));
        // Non-contiguous input: the op sees a transposed view.
        Check(name + " (transposed)", xs => op(xs[0].T), positive ? Positive(3, 5) : Leaf(3, 5));
    }

    [Test]
    public void Backward_of_relu_and_abs_matches_finite_differences()
    {
        Check("relu", xs => xs[0].Relu(), AwayFromZero(4, 9));
        Check("abs", xs => xs[0].Abs(), AwayFromZero(4, 9));
    }

    public static IEnumerable<TestCaseData> Binary()
    {
        yield return new TestCaseData("add", (Func<Tensor, Tensor, Tensor>)((a, b) => a + b));
        yield return new TestCaseData("sub", (Func<Tensor, Tensor, Tensor>)((a, b) => a - b));
        yield return new TestCaseData("mul", (Func<Tensor, Tensor, Tensor>)((a, b) => a * b));
        yield return new TestCaseData("div", (Func<Tensor, Tensor, Tensor>)((a, b) => a / b));
    }

    [TestCaseSource(nameof(Binary))]
    public void Backward_of_binary_op_matches_finite_differences_with_broadcasting(string name, Func<Tensor, Tensor, Tensor> op)
    {
        Check(name + " same shape", xs => op(xs[0], xs[1]), Leaf(3, 11), Positive(3, 11));
        Check(name + " row broadcast", xs => op(xs[0], xs[1]), Leaf(4, 3, 5), Positive(5));
        Check(name + " column broadcast", xs => op(xs[0], xs[1]), Leaf(4, 1), Positive(4, 6));
        Check(name + " both broadcast", xs => op(xs[0], xs[1]), Leaf(2, 1, 3), Positive(1, 4, 1));
        Check(name + " transposed", xs => op(xs[0].T, xs[1]), Leaf(5, 3), Positive(3, 5));
    }

    [Test]
    public void Backward_of_sum_mean_max_matches_finite_differences()
    {
        Check("sum all", xs => xs[0].Sum(), Leaf(3, 4, 5));
        Check("sum dim 1 keepdim", xs => xs[0].Sum(1, keepDim: true), Leaf(3, 4, 5));
        Check("sum dims 0,2", xs => xs[0].Sum(new[] { 0, 2 }), Leaf(3, 4, 5));
        Check("mean last", xs => xs[0].Mean(-1), Leaf(3, 4, 5));
        Check("mean all", xs => xs[0].Mean(), Leaf(6, 7));
        Check("max last", xs => xs[0].Max(-1), Leaf(3, 4, 9));
        Check("max middle keepdim", xs => xs[0].Max(1, keepDim: true), Leaf(3, 4, 5));
        Check("max of transposed", xs => xs[0].T.Max(0), Leaf(4, 6));
    }

    [Test]
    public void Backward_of_matmul_matches_finite_differences()
    {
        Check("matmul 2d", xs => xs[0].Matmul(xs[1]), Leaf(3, 4), Leaf(4, 5));
        Check("matmul a transposed", xs => xs[0].T.Matmul(xs[1]), Leaf(4, 3), Leaf(4, 5));
        Check("matmul b transposed", xs => xs[0].Matmul(xs[1].T), Leaf(3, 4), Leaf(5, 4));
        Check("matmul both transposed", xs => xs[0].T.Matmul(xs[1].T), Leaf(4, 3), Leaf(5, 4));
        Check("matmul batched", xs => xs[0].Matmul(xs[1]), Leaf(2, 3, 4), Leaf(2, 4, 5));
        Check("matmul 3d · 2d", xs => xs[0].Matmul(xs[1]), Leaf(2, 3, 4), Leaf(4, 5));
        Check("matmul broadcast batch", xs => xs[0].Matmul(xs[1]), Leaf(2, 1, 3, 4), Leaf(3, 4, 2));
        Check("matmul vector", xs => xs[0].Matmul(xs[1]), Leaf(4), Leaf(4, 3));
        Check("matmul permuted batch", xs => xs[0].Permute(1, 0, 2).Matmul(xs[1]), Leaf(3, 2, 4), Leaf(2, 4, 5));
        // Attention heads: [B, T, H, d] viewed as [B, H, T, d]; the batch dims need two strides.
        Check("matmul per-head views", xs => xs[0].Permute(0, 2, 1, 3).Matmul(xs[1].Permute(0, 2, 3, 1)), Leaf(2, 3, 2, 4), Leaf(2, 3, 2, 4));
    }

    [Test]
    public void Backward_of_linear_matches_finite_differences()
    {
        Check("linear with bias", xs => Tensor.Linear(xs[0], xs[1], xs[2]), Leaf(2, 3, 4), Leaf(5, 4), Leaf(5));
        Check("linear without bias", xs => Tensor.Linear(xs[0], xs[1]), Leaf(3, 4), Leaf(5, 4));
        Check("linear of transposed input", xs => Tensor.Linear(xs[0].T, xs[1], xs[2]), Leaf(4, 3), Leaf(5, 4), Leaf(5));
    }

    [Test]
    public void Backward_of_softmax_and_log_softmax_matches_finite_differences()
    {
        Check("softmax", xs => xs[0].Softmax(), Leaf(3, 7));
        Check("log_softmax", xs => xs[0].LogSoftmax(), Leaf(2, 3, 10));
        Check("softmax transposed", xs => xs[0].T.Softmax(), Leaf(6, 4));
    }

    [Test]
    public void Backward_of_scaled_masked_softmax_matches_finite_differences()
    {
        var padding = Tensor.FromArray(new[] { 0f, 0f, -3f, 0f, -1f, 0f, 0f, -2f, 0f, 0f }, 2, 1, 1, 5).Keep();
        Check("scaled_masked_softmax (fused)", xs => xs[0].ScaledMaskedSoftmax(0.4f, padding), Leaf(2, 3, 4, 5));
        using (var profiler = Finetune.Kernels.Profiling.KernelProfiler.Start())
        {
            var x = Leaf(2, 3, 4, 5);
            x.ScaledMaskedSoftmax(0.4f, padding).Sum().Backward();
            var kernels = profiler.Records.Select(r => r.Kernel).ToList();
            Assert.That(kernels, Does.Contain("softmax scaled masked").And.Contain("softmax_backward"), "the fused kernels ran");
            Assert.That(kernels, Does.Not.Contain("softmax"), "no composed softmax ran");
        }
        Check("scaled_masked_softmax (no mask)", xs => xs[0].ScaledMaskedSoftmax(1.7f), Leaf(3, 5));
        // A learned mask is not a constant: the composed ops carry its gradient too.
        Check("scaled_masked_softmax (mask with a gradient)", xs => xs[0].ScaledMaskedSoftmax(0.5f, xs[1]), Leaf(2, 3, 5), Leaf(3, 5));
        padding.Dispose();
    }

    [Test]
    public void Backward_of_layer_norm_matches_finite_differences()
    {
        Check("layer_norm", xs => xs[0].LayerNorm(xs[1], xs[2]), Leaf(4, 13), Leaf(13), Leaf(13));
        Check("layer_norm 3d", xs => xs[0].LayerNorm(xs[1], xs[2], 1e-12f), Leaf(2, 3, 8), Positive(8), Leaf(8));
    }

    [Test]
    public void Backward_of_dropout_matches_finite_differences_for_a_fixed_mask()
    {
        // Same generator state on every evaluation, so the mask is fixed.
        Check("dropout", xs => xs[0].Dropout(0.3f, training: true, new Generator(99)), Leaf(5, 8));
    }

    [Test]
    public void Backward_of_embedding_matches_finite_differences_with_repeated_ids()
    {
        var ids = Tensor.FromArray(new[] { 1, 3, 1, 0, 3, 3 }, 2, 3).Keep();
        Check("embedding", xs => Tensor.Embedding(xs[0], ids), Leaf(5, 4));
        ids.Dispose();
    }

    [Test]
    public void Backward_of_cross_entropy_matches_finite_differences()
    {
        var targets = Tensor.FromArray(new[] { 2, 0, -100, 4 }, 4).Keep();
        Check("cross_entropy mean", xs => xs[0].CrossEntropy(targets), Leaf(4, 5));
        Check("cross_entropy sum", xs => xs[0].CrossEntropy(targets, reduction: Reduction.Sum), Leaf(4, 5));
        Check("cross_entropy none", xs => xs[0].CrossEntropy(targets, reduction: Reduction.None), Leaf(4, 5));
        targets.Dispose();
    }

    [Test]
    public void Backward_of_concat_matches_finite_differences()
    {
        Check("concat dim 0", xs => Tensor.Concat(xs, 0), Leaf(2, 3), Leaf(4, 3));
        Check("concat dim 1", xs => Tensor.Concat(new[] { xs[0], xs[1].T }, 1), Leaf(2, 3), Leaf(5, 2));
    }

    [Test]
    public void Backward_of_where_and_masked_fill_matches_finite_differences()
    {
        var mask = Tensor.FromArray(new[] { 1f, 0f, 0f, 1f, 1f }, 5).Keep();
        Check("where", xs => Tensor.Where(mask, xs[0], xs[1]), Leaf(3, 5), Leaf(5));
        Check("masked_fill", xs => xs[0].MaskedFill(mask, -1e4f), Leaf(2, 5));
        mask.Dispose();
    }

    [Test]
    public void Backward_of_views_matches_finite_differences()
    {
        Check("reshape", xs => xs[0].Reshape(4, 6), Leaf(2, 3, 4));
        Check("reshape of transposed", xs => xs[0].T.Reshape(-1), Leaf(3, 4));
        Check("permute", xs => xs[0].Permute(2, 0, 1), Leaf(2, 3, 4));
        Check("narrow", xs => xs[0].Narrow(1, 1, 2), Leaf(3, 4));
        Check("slice negative", xs => xs[0].Slice(0, -2, -1), Leaf(3, 4));
        Check("expand", xs => xs[0].Expand(3, 4, 5), Leaf(4, 1));
        Check("unsqueeze/squeeze", xs => xs[0].Unsqueeze(1).Squeeze(2 - 2 + 1).Unsqueeze(-1), Leaf(3, 4));
        Check("contiguous", xs => xs[0].T.Contiguous(), Leaf(3, 4));
        Check("clone", xs => xs[0].Clone(), Leaf(3, 4));
    }

    [Test]
    public void Backward_of_a_composite_attention_block_matches_finite_differences()
    {
        // softmax(q·kᵀ/√d + mask)·v through transposes, broadcasting and a padding mask.
        var pad = Tensor.FromArray(new[] { 0f, 0f, 0f, 1f }, 1, 1, 4).Keep();
        Check("attention", xs =>
        {
            var scores = xs[0].Matmul(xs[1].Transpose(-1, -2)) * (1f / MathF.Sqrt(3));
            var probs = scores.MaskedFill(pad, -1e9f).Softmax();
            return probs.Matmul(xs[2]);
        }, Leaf(2, 4, 3), Leaf(2, 4, 3), Leaf(2, 4, 3));
        pad.Dispose();
    }
}
