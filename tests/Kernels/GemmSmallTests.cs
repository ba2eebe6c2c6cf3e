using Finetune.Kernels.Cpu;
using NUnit.Framework;

namespace Finetune.Tests.Kernels;

[TestFixture]
public unsafe class GemmSmallTests
{
    private static readonly int[] OddDims = [1, 3, 7, 17, 63, 65];
    private static readonly (float Alpha, float Beta)[] AlphaBeta = [(1f, 0f), (0.5f, -2f), (-1.5f, 1f), (2f, 0.25f)];

    /// <summary>The shapes attention and adapters produce, each (m, n, k, batch).</summary>
    private static readonly (int M, int N, int K, int Batch)[] RealShapes =
    [
        (128, 128, 32, 96), (128, 32, 128, 96), (128, 128, 64, 12), (128, 64, 128, 12),
        (1024, 24, 384, 1), (1024, 384, 24, 1), (24, 384, 1024, 1), (384, 24, 1024, 1), (24, 24, 24, 1), (32, 32, 32, 1),
    ];

    [OneTimeSetUp]
    public void RequireSmallPath()
    {
        if (!GemmSmall.Supported) Assert.Ignore("the small-GEMM path needs AVX2 and FMA");
    }

    private static void RunSmall(GemmCase c, float alpha, float beta, bool parallel)
    {
        var p = new GemmProblem(c.TA, c.TB, c.M, c.N, c.K, alpha, c.A, c.Lda, c.B, c.Ldb, beta, c.C, c.Ldc);
        GemmSmall.Run(in p, parallel);
    }

    [Test]
    public void Small_path_matches_float64_reference_over_odd_shapes_transposes_alpha_beta_and_padding()
    {
        int index = 0;
        foreach (int m in OddDims)
            foreach (int n in OddDims)
                foreach (int k in new[] { 1, 7, 64, 129 })
                    foreach (bool ta in new[] { false, true })
                        foreach (bool tb in new[] { false, true })
                        {
                            var (alpha, beta) = AlphaBeta[index % AlphaBeta.Length];
                            using var c = new GemmCase(ta, tb, m, n, k, pad: index++ % 3 == 0 ? 0 : 5, seed: index);
                            RunSmall(c, alpha, beta, parallel: index % 2 == 0);
                            c.Check(alpha, beta);
                        }
    }

    [Test]
    public void Real_shapes_take_the_small_path_through_Sgemm_and_match_reference()
    {
        foreach (var (m, n, k, batch) in RealShapes)
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                {
                    Assert.That(GemmPacked.PathFor(m, n, k, 1f, GemmPacked.Kernel, epilogue: false), Is.EqualTo(GemmPath.Small),
                        $"m={m} n={n} k={k}");
                    using var c = new GemmCase(ta, tb, m, n, k, pad: 3, batch: Math.Min(batch, 4));
                    c.Run(0.75f, 0.5f);
                    c.Check(0.75f, 0.5f);
                }
    }

    [Test]
    public void Beta_zero_never_reads_C_even_when_it_holds_NaN()
    {
        foreach (var (m, n, k) in new[] { (7, 17, 63), (65, 3, 129), (24, 24, 24), (1024, 24, 384), (128, 32, 128) })
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    foreach (bool parallel in new[] { false, true })
                    {
                        using var c = new GemmCase(ta, tb, m, n, k, pad: 2);
                        for (long i = 0; i < c.C0.Length; i++) c.C[i] = c.C0[i] = float.NaN;
                        RunSmall(c, 1.25f, 0f, parallel);
                        c.Check(1.25f, 0f);
                    }
    }

    [Test]
    public void Results_repeat_bit_for_bit_with_1_and_2_threads()
    {
        // Above GemmSmall.ParallelWork (threads split the tiles) and below it, batched and not.
        foreach (var (m, n, k, batch) in new[] { (1024, 24, 384, 1), (200, 64, 700, 1), (1024, 384, 24, 1), (128, 32, 128, 96),
                     (128, 128, 32, 96), (65, 63, 17, 3) })
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                {
                    Assert.That(GemmPacked.PathFor(m, n, k, 1f, GemmPacked.Kernel, false), Is.EqualTo(GemmPath.Small));
                    using var c = new GemmCase(ta, tb, m, n, k, pad: 1, batch: batch);
                    c.AssertSameBitsWithThreads(1, 2);
                }
    }

    [Test]
    public void Dispatch_rule_sends_short_k_and_thin_products_to_the_small_path_and_the_rest_elsewhere()
    {
        var kernel = GemmPacked.Kernel;
        GemmPath For(int m, int n, int k) => GemmPacked.PathFor(m, n, k, 1f, kernel, epilogue: false);
        Assert.Multiple(() =>
        {
            Assert.That(For(24, 24, 24), Is.EqualTo(GemmPath.Small));
            Assert.That(For(64, 64, 64), Is.EqualTo(GemmPath.Small));
            Assert.That(For(128, 128, 32), Is.EqualTo(GemmPath.Small), "attention scores, head dim 32");
            Assert.That(For(1024, 384, 24), Is.EqualTo(GemmPath.Small), "adapter up-projection");
            Assert.That(For(384, 24, 1024), Is.EqualTo(GemmPath.Small), "adapter dWd");
            Assert.That(For(8, 8, 8), Is.EqualTo(GemmPath.Direct), "tiny: 6×16 tiles would idle");
            Assert.That(For(1, 384, 384), Is.EqualTo(GemmPath.Direct), "a row vector");
            Assert.That(For(1024, 8, 384), Is.EqualTo(kernel.Nr >= 16 ? GemmPath.PackedTransposed : GemmPath.Small), "LoRA rank 8");
            Assert.That(For(128, 128, 128), Is.EqualTo(GemmPath.Packed), "no dimension is short");
            Assert.That(For(64, 64, 2048), Is.EqualTo(GemmPath.Packed), "k beyond the small path");
            Assert.That(GemmPacked.PathFor(24, 24, 0, 1f, kernel, false), Is.EqualTo(GemmPath.Scale));
            Assert.That(GemmPacked.PathFor(24, 24, 24, 0f, kernel, false), Is.EqualTo(GemmPath.Scale));
        });
        bool saved = GemmPacked.SmallPath;
        GemmPacked.SmallPath = false;
        try { Assert.That(For(128, 128, 32), Is.EqualTo(GemmPath.Packed), "switched off, as the bench's --path packed does"); }
        finally { GemmPacked.SmallPath = saved; }
    }
}
