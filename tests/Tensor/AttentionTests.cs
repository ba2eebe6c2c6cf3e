using Finetune.Kernels;
using Finetune.Kernels.Cpu;
using Finetune.Kernels.Profiling;

namespace Finetune.Tests.Tensors;

/// <summary>
/// The fused attention op (<see cref="Tensor.Attention"/>) against the composed ops it replaces (Q·Kᵀ, masked softmax,
/// dropout, ·V) on the same inputs and the same dropout stream: forward and every gradient within 1e-5 relative over head
/// dims 1…128 and lengths 1…1024 (Tq ≠ Tk included, as prefix tuning gives), fully padded rows, finite differences,
/// and bitwise equality across thread counts.
/// </summary>
public class AttentionTests
{
    private const double Tolerance = 1e-5;

    private sealed record Outcome(float[] Y, float[] Dq, float[] Dk, float[] Dv, List<string> Kernels);

    public sealed record Problem(int Batch, int Heads, int Tq, int Tk, int D, float Dropout, int PaddedKeys, bool FullyPaddedItem = false)
    {
        public override string ToString() =>
            $"B{Batch} H{Heads} Tq{Tq} Tk{Tk} d{D} p{Dropout} pad{PaddedKeys}{(FullyPaddedItem ? " allpad" : "")}";
    }

    private static float[] Random(int n, ulong seed)
    {
        using var t = Tensor.Normal(new[] { n }, 0f, 1f, new Generator(seed));
        return t.ToArray();
    }

    /// <summary>A [B, 1, 1, Tk] mask: the last <paramref name="padded"/> keys of batch item 1 (and every key of the last item when
    /// <paramref name="allPadded"/>) get BERT's −1e9.</summary>
    private static Tensor Mask(Problem p)
    {
        var m = new float[p.Batch * p.Tk];
        for (int b = 0; b < p.Batch; b++)
            for (int j = 0; j < p.Tk; j++)
                if ((b == 1 % p.Batch && j >= p.Tk - p.PaddedKeys) || (p.FullyPaddedItem && b == p.Batch - 1)) m[b * p.Tk + j] = -1e9f;
        return Tensor.FromArray(m, new[] { p.Batch, 1, 1, p.Tk });
    }

    /// <summary>Forward and backward of sum(y ∘ w), fused or composed, with the dropout stream from offset 0 each time.</summary>
    private static Outcome Run(Problem p, bool fused)
    {
        using var scope = TensorScope.Begin();
        var q = Tensor.FromArray(Random(p.Batch * p.Tq * p.Heads * p.D, 1), new[] { p.Batch, p.Tq, p.Heads, p.D });
        var k = Tensor.FromArray(Random(p.Batch * p.Tk * p.Heads * p.D, 2), new[] { p.Batch, p.Tk, p.Heads, p.D });
        var v = Tensor.FromArray(Random(p.Batch * p.Tk * p.Heads * p.D, 3), new[] { p.Batch, p.Tk, p.Heads, p.D });
        foreach (var x in new[] { q, k, v }) x.RequiresGrad = true;
        var mask = p.PaddedKeys > 0 || p.FullyPaddedItem ? Mask(p) : null;
        float scale = 1f / MathF.Sqrt(p.D);
        var generator = new Generator(77);
        using var profiler = KernelProfiler.Start();
        var y = fused ? Tensor.Attention(q, k, v, mask, scale, p.Dropout, generator) : Composed(q, k, v, mask, scale, p.Dropout, generator);
        var w = Tensor.FromArray(Random((int)y.Count, 4), y.Shape.ToArray());
        (y * w).Sum().Backward();
        return new Outcome(y.ToArray(), q.Grad!.ToArray(), k.Grad!.ToArray(), v.Grad!.ToArray(),
            profiler.Records.Select(r => r.Kernel).ToList());
    }

    /// <summary>The composed path as BertSelfAttention runs it, in the [B, T, heads, d] layout of the fused op.</summary>
    private static Tensor Composed(Tensor q, Tensor k, Tensor v, Tensor? mask, float scale, float dropout, Generator generator)
    {
        var scores = q.Transpose(1, 2).Matmul(k.Transpose(1, 2).Transpose(-1, -2));
        var probs = scores.ScaledMaskedSoftmax(scale, mask).Dropout(dropout, true, generator);
        return probs.Matmul(v.Transpose(1, 2)).Transpose(1, 2);
    }

    private static void AssertClose(float[] actual, float[] expected, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what);
        double scale = expected.Max(x => Math.Abs((double)x)), worst = 0;
        for (int i = 0; i < actual.Length; i++) worst = Math.Max(worst, Math.Abs((double)actual[i] - expected[i]));
        // A gradient that is zero analytically (dQ with a single key) is compared at an absolute 1e-6.
        Assert.That(worst, Is.LessThanOrEqualTo(Tolerance * Math.Max(scale, 0.1)),
            $"{what}: max |fused - composed| {worst:G3} vs max |composed| {scale:G3}");
    }

    private static IEnumerable<Problem> Problems()
    {
        foreach (float p in new[] { 0f, 0.1f })
        {
            yield return new Problem(2, 2, 1, 1, 1, p, 0);
            yield return new Problem(2, 3, 2, 2, 7, p, 1);
            yield return new Problem(2, 2, 17, 17, 32, p, 5);
            yield return new Problem(3, 2, 17, 25, 7, p, 9);                 // Tq ≠ Tk (a prefix of 8 keys)
            yield return new Problem(2, 2, 128, 128, 64, p, 40);
            yield return new Problem(2, 1, 17, 128, 128, p, 3);
            yield return new Problem(1, 2, 2, 1024, 32, p, 0);
            yield return new Problem(1, 1, 1024, 1024, 128, p, 0);
            yield return new Problem(2, 1, 1024, 17, 1, p, 4);
            yield return new Problem(3, 2, 33, 70, 32, p, 20, FullyPaddedItem: true);
        }
    }

    [TestCaseSource(nameof(Problems))]
    public void Fused_matches_composed_forward_and_gradients(Problem p)
    {
        var composed = Run(p, false);
        var fused = Run(p, true);
        AssertClose(fused.Y, composed.Y, "y");
        AssertClose(fused.Dq, composed.Dq, "dQ");
        AssertClose(fused.Dk, composed.Dk, "dK");
        AssertClose(fused.Dv, composed.Dv, "dV");
        Assert.That(fused.Kernels, Does.Contain("attention_forward").And.Contain("attention_backward"), "the fused kernels ran");
        Assert.That(fused.Kernels.Where(k => k.Contains("softmax") || k.StartsWith("gemm") || k == "random_uniform"), Is.Empty,
            "no score GEMM, softmax or dropout tensor on the fused path");
    }

    [Test]
    public void Fused_draws_as_many_dropout_counters_as_composed()
    {
        var q = Tensor.Ones(new[] { 2, 5, 3, 4 });
        var composed = new Generator(1);
        var fused = new Generator(1);
        using (GradMode.NoGrad())
        {
            Composed(q, q, q, null, 0.5f, 0.1f, composed).Dispose();
            Tensor.Attention(q, q, q, null, 0.5f, 0.1f, fused).Dispose();
        }
        Assert.That(fused.Offset, Is.EqualTo(composed.Offset));
    }

    [Test]
    public void A_row_masked_with_minus_infinity_gives_zeros_and_no_gradient()
    {
        var q = Tensor.FromArray(Random(2 * 3 * 1 * 4, 1), new[] { 2, 3, 1, 4 });
        var kv = Tensor.FromArray(Random(2 * 5 * 1 * 4, 2), new[] { 2, 5, 1, 4 });
        q.RequiresGrad = kv.RequiresGrad = true;
        var m = new float[10];
        for (int j = 0; j < 5; j++) m[5 + j] = float.NegativeInfinity;
        var y = Tensor.Attention(q, kv, kv, Tensor.FromArray(m, new[] { 2, 1, 1, 5 }), 0.5f, 0.2f, new Generator(3));
        y.Sum().Backward();
        var values = y.ToArray();
        Assert.That(values.Take(12), Has.Some.Not.EqualTo(0f), "item 0 attends");
        Assert.That(values.Skip(12), Is.All.EqualTo(0f), "item 1 has no key: zeros, not NaN");
        Assert.That(q.Grad!.ToArray().Skip(12), Is.All.EqualTo(0f));
        Assert.That(kv.Grad!.ToArray(), Has.All.Matches<float>(float.IsFinite));
    }

    [Test]
    public void Gradients_match_finite_differences([Values(0f, 0.3f)] float dropout)
    {
        var shapes = new[] { new[] { 2, 4, 2, 3 }, new[] { 2, 5, 2, 3 }, new[] { 2, 5, 2, 3 } };
        var inputs = shapes.Select((s, i) => Tensor.FromArray(Random(s.Aggregate(1, (a, b) => a * b), 10 + (ulong)i), s)).ToArray();
        foreach (var x in inputs) x.RequiresGrad = true;
        var mask = Tensor.FromArray(new[] { 0f, 0f, 0f, 0f, 0f, 0f, 0f, -1e9f, 0f, -1e9f }, new[] { 2, 1, 1, 5 });
        GradCheck.Assert(t => Tensor.Attention(t[0], t[1], t[2], mask, 0.7f, dropout, new Generator(5)), inputs, what: "attention");
    }

    [Test]
    public void Results_do_not_depend_on_the_thread_count()
    {
        var p = new Problem(3, 4, 70, 90, 24, 0.1f, 13);
        int threads = CpuParallel.Threads;
        try
        {
            CpuParallel.Threads = 1;
            var one = Run(p, true);
            CpuParallel.Threads = 2;
            var two = Run(p, true);
            Assert.That(two.Y, Is.EqualTo(one.Y));
            Assert.That(two.Dq, Is.EqualTo(one.Dq));
            Assert.That(two.Dk, Is.EqualTo(one.Dk));
            Assert.That(two.Dv, Is.EqualTo(one.Dv));
        }
        finally
        {
            CpuParallel.Threads = threads;
        }
    }

    [Test]
    public void Strided_inputs_match_packed_ones()
    {
        // [B, H, T, d] tensors transposed to [B, T, H, d]: the kernels read the strides instead of copying.
        var bhtd = Tensor.FromArray(Random(2 * 3 * 6 * 5, 8), new[] { 2, 3, 6, 5 });
        var strided = bhtd.Transpose(1, 2);
        var packed = strided.Contiguous();
        var a = Tensor.Attention(strided, strided, strided, null, 0.4f).ToArray();
        var b = Tensor.Attention(packed, packed, packed, null, 0.4f).ToArray();
        Assert.That(a, Is.EqualTo(b));
    }

    [Test]
    public void Bad_inputs_are_refused_at_the_door()
    {
        var q = Tensor.Zeros(new[] { 2, 3, 2, 4 });
        var k = Tensor.Zeros(new[] { 2, 5, 2, 4 });
        Assert.That(() => Tensor.Attention(q, Tensor.Zeros(new[] { 2, 5, 2, 3 }), k, null, 1f),
            Throws.ArgumentException.With.Message.Contains("attention"));
        Assert.That(() => Tensor.Attention(q, k, k, Tensor.Zeros(new[] { 2, 1, 3, 5 }), 1f),
            Throws.ArgumentException.With.Message.Contains("mask"));
        Assert.That(() => Tensor.Attention(q, k, k, null, 1f, 1f), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => Tensor.Attention(q, Tensor.Zeros(new[] { 2, 0, 2, 4 }), Tensor.Zeros(new[] { 2, 0, 2, 4 }), null, 1f),
            Throws.ArgumentException);
    }
}
