using System.Runtime.InteropServices;
using Finetune.Kernels.Cpu;
using NUnit.Framework;

namespace Finetune.Tests.Kernels;

[TestFixture]
public unsafe class GemmPackedTests
{
    private static readonly (int M, int N, int K)[] OddSizes =
    [
        (1, 1, 1), (1, 7, 13), (7, 1, 13), (7, 13, 31), (13, 31, 7), (31, 65, 130), (65, 130, 31),
        (130, 65, 257), (257, 31, 65), (33, 257, 300), (3, 300, 70), (70, 3, 300),
        (130, 13, 70), (300, 16, 33), (600, 8, 40), (16, 16, 16), (17, 16, 16),
    ];

    private static IEnumerable<TestCaseData> Kernels() =>
        GemmKernelInfo.Supported().Select(k => new TestCaseData(k.Name).SetArgDisplayNames(k.Name));

    private static void WithKernel(string name, Action body)
    {
        var saved = GemmPacked.Kernel;
        GemmPacked.Kernel = GemmKernelInfo.Supported().Single(k => k.Name == name);
        try { body(); }
        finally { GemmPacked.Kernel = saved; }
    }

    [TestCaseSource(nameof(Kernels))]
    public void All_transpose_combos_match_float64_reference_at_odd_sizes(string kernel) => WithKernel(kernel, () =>
    {
        foreach (var (m, n, k) in OddSizes)
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                {
                    using var c = new GemmCase(ta, tb, m, n, k, pad: 0);
                    c.Run(1f, 0f);
                    c.Check(1f, 0f);
                }
    });

    [TestCaseSource(nameof(Kernels))]
    public void Padded_leading_dimensions_and_alpha_beta_variants_match_reference(string kernel) => WithKernel(kernel, () =>
    {
        foreach (var (alpha, beta) in new[] { (1f, 1f), (0.5f, -2f), (-1.5f, 0f), (2f, 0.25f) })
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                {
                    using var c = new GemmCase(ta, tb, 67, 45, 93, pad: 5);
                    c.Run(alpha, beta);
                    c.Check(alpha, beta);
                }
    });

    [TestCaseSource(nameof(Kernels))]
    public void Beta_zero_never_reads_C_even_when_it_holds_NaN(string kernel) => WithKernel(kernel, () =>
    {
        foreach (var (m, n, k) in new[] { (5, 6, 7), (61, 70, 300), (200, 3, 40) })
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                {
                    using var c = new GemmCase(ta, tb, m, n, k, pad: 3, cFill: float.NaN);
                    for (long i = 0; i < c.C0.Length; i++) c.C[i] = c.C0[i] = float.NaN;
                    c.Run(0.75f, 0f);
                    c.Check(0.75f, 0f);
                }
    });

    [Test]
    public void Batched_with_stride_zero_broadcasts_one_matrix()
    {
        foreach (var (bA, bB) in new[] { (true, false), (false, true), (false, false) })
            foreach (var (m, n, k) in new[] { (9, 11, 13), (70, 80, 90) })
            {
                using var c = new GemmCase(false, true, m, n, k, pad: 2, batch: 5, broadcastA: bA, broadcastB: bB);
                c.Run(1f, 0.5f);
                c.Check(1f, 0.5f);
            }
    }

    [Test]
    public void Batched_with_shared_C_accumulates_in_batch_order()
    {
        const int m = 20, n = 24, k = 30, batch = 4;
        using var c = new GemmCase(false, false, m, n, k, pad: 0, batch: batch);
        var expected = new float[m * n];
        for (int i = 0; i < m * n; i++) expected[i] = c.C0[i];
        fixed (float* e = expected)
            for (int bi = 0; bi < batch; bi++)
                GemmPacked.Sgemm(false, false, m, n, k, 1f, c.A + bi * c.SA, c.Lda, 0, c.B + bi * c.SB, c.Ldb, 0, 1f, e, c.Ldc, 0, 1);
        GemmPacked.Sgemm(false, false, m, n, k, 1f, c.A, c.Lda, c.SA, c.B, c.Ldb, c.SB, 1f, c.C, c.Ldc, 0, batch);
        for (int i = 0; i < m * n; i++) Assert.That(c.C[i], Is.EqualTo(expected[i]), $"element {i}");
    }

    [Test]
    public void K_zero_scales_C_by_beta()
    {
        using var c = new GemmCase(false, false, 4, 5, 0, pad: 1);
        c.Run(1f, 3f);
        c.Check(1f, 3f);
        using var z = new GemmCase(true, true, 40, 50, 0, pad: 1);
        for (long i = 0; i < z.C0.Length; i++) z.C[i] = float.NaN;
        z.Run(1f, 0f);
        for (int i = 0; i < 40; i++)
            for (int j = 0; j < 50; j++) Assert.That(z.C[i * z.Ldc + j], Is.EqualTo(0f));
    }

    [Test]
    public void Small_blocking_parameters_exercise_every_loop_and_still_match()
    {
        int kc = GemmPacked.KC, mc = GemmPacked.MC, nc = GemmPacked.NC, mb = GemmPacked.MBig;
        (GemmPacked.KC, GemmPacked.MC, GemmPacked.NC, GemmPacked.MBig) = (16, 20, 40, 60);
        try
        {
            foreach (var name in GemmKernelInfo.Supported().Select(k => k.Name))
                WithKernel(name, () =>
                {
                    foreach (bool ta in new[] { false, true })
                        foreach (bool tb in new[] { false, true })
                        {
                            using var c = new GemmCase(ta, tb, 131, 97, 75, pad: 1);
                            c.Run(1.25f, -0.5f);
                            c.Check(1.25f, -0.5f);
                        }
                });
        }
        finally { (GemmPacked.KC, GemmPacked.MC, GemmPacked.NC, GemmPacked.MBig) = (kc, mc, nc, mb); }
    }

    [Test]
    public void Results_repeat_bit_for_bit_across_thread_counts_1_2_3()
    {
        var shapes = new (int M, int N, int K, int Batch)[] { (300, 200, 600, 1), (97, 530, 300, 1), (2, 700, 500, 1), (20, 24, 40, 7), (64, 64, 300, 3), (500, 8, 700, 1) };
        foreach (var (m, n, k, batch) in shapes)
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                {
                    using var c = new GemmCase(ta, tb, m, n, k, pad: 1, batch: batch);
                    c.AssertSameBitsWithThreads(1, 2, 3);
                }
    }
}
