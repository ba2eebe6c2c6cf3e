using System.Runtime.InteropServices;
using Finetune.Kernels.Cpu;
using NUnit.Framework;

namespace Finetune.Tests.Kernels;

[TestFixture]
public unsafe class GemmPackedTests
{
    private const double Eps = 1.1920929e-7;

    private static readonly (int M, int N, int K)[] OddSizes =
    [
        (1, 1, 1), (1, 7, 13), (7, 1, 13), (7, 13, 31), (13, 31, 7), (31, 65, 130), (65, 130, 31),
        (130, 65, 257), (257, 31, 65), (33, 257, 300), (3, 300, 70), (70, 3, 300),
        (130, 13, 70), (300, 16, 33), (600, 8, 40), (16, 16, 16), (17, 16, 16),
    ];

    private static IEnumerable<TestCaseData> Kernels() =>
        GemmKernelInfo.Supported().Select(k => new TestCaseData(k.Name).SetArgDisplayNames(k.Name));

    /// <summary>A problem with its own native buffers; leading dimensions may exceed the minimum.</summary>
    private sealed class Case : IDisposable
    {
        public readonly bool TA, TB;
        public readonly int M, N, K, Lda, Ldb, Ldc, Batch;
        public readonly long SA, SB, SC;
        public readonly float* A, B, C;
        public readonly float[] C0;
        private readonly long _na, _nb, _nc;

        public Case(bool ta, bool tb, int m, int n, int k, int pad, int batch = 1, bool broadcastA = false, bool broadcastB = false, int seed = 1, float cFill = float.NaN)
        {
            TA = ta; TB = tb; M = m; N = n; K = k; Batch = batch;
            Lda = (ta ? m : k) + pad; Ldb = (tb ? k : n) + pad; Ldc = n + pad;
            long rowsA = ta ? k : m, rowsB = tb ? n : k;
            long sizeA = Math.Max(1, rowsA * Lda), sizeB = Math.Max(1, rowsB * Ldb), sizeC = (long)m * Ldc;
            SA = broadcastA ? 0 : sizeA; SB = broadcastB ? 0 : sizeB; SC = sizeC;
            _na = broadcastA ? sizeA : sizeA * batch; _nb = broadcastB ? sizeB : sizeB * batch; _nc = sizeC * batch;
            A = Alloc(_na); B = Alloc(_nb); C = Alloc(_nc);
            var rng = new Random(seed);
            for (long i = 0; i < _na; i++) A[i] = (float)(rng.NextDouble() * 2 - 1);
            for (long i = 0; i < _nb; i++) B[i] = (float)(rng.NextDouble() * 2 - 1);
            for (long i = 0; i < _nc; i++) C[i] = float.IsNaN(cFill) ? (float)(rng.NextDouble() * 2 - 1) : cFill;
            C0 = new float[_nc];
            for (long i = 0; i < _nc; i++) C0[i] = C[i];
        }

        private static float* Alloc(long n) => (float*)NativeMemory.AlignedAlloc((nuint)(Math.Max(1, n) * sizeof(float)), 64);

        public void Reset() { for (long i = 0; i < _nc; i++) C[i] = C0[i]; }

        public void Run(float alpha, float beta) =>
            GemmPacked.Sgemm(TA, TB, M, N, K, alpha, A, Lda, SA, B, Ldb, SB, beta, C, Ldc, SC, Batch);

        public float[] Result()
        {
            var r = new float[_nc];
            for (long i = 0; i < _nc; i++) r[i] = C[i];
            return r;
        }

        /// <summary>Compares C with a float64 reference; error bound grows like sqrt(k)·eps of the absolute sum.</summary>
        public void Check(float alpha, float beta)
        {
            for (int bi = 0; bi < Batch; bi++)
            {
                float* a = A + bi * SA, b = B + bi * SB, c = C + bi * SC;
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < N; j++)
                    {
                        double s = 0, abs = 0;
                        for (int p = 0; p < K; p++)
                        {
                            double av = TA ? a[(long)p * Lda + i] : a[(long)i * Lda + p];
                            double bv = TB ? b[(long)j * Ldb + p] : b[(long)p * Ldb + j];
                            s += av * bv;
                            abs += Math.Abs(av * bv);
                        }
                        double c0 = C0[bi * SC + (long)i * Ldc + j];
                        double expected = alpha * s + (beta == 0 ? 0 : beta * c0);
                        double scale = Math.Abs(alpha) * abs + (beta == 0 ? 0 : Math.Abs(beta * c0));
                        double tol = (4 * Math.Sqrt(K) + 4) * Eps * scale + 1e-30;
                        float got = c[(long)i * Ldc + j];
                        if (!(Math.Abs(got - expected) <= tol))
                            Assert.Fail($"C[{bi}][{i},{j}] = {got}, expected {expected} ± {tol} (m={M} n={N} k={K} transA={TA} transB={TB} alpha={alpha} beta={beta})");
                    }
                // Padding columns of C must be untouched.
                for (int i = 0; i < M; i++)
                    for (int j = N; j < Ldc; j++)
                    {
                        long at = bi * SC + (long)i * Ldc + j;
                        // Bit for bit: a NaN that was there stays that NaN, and no NaN appears where there was none.
                        Assert.That(BitConverter.SingleToInt32Bits(C[at]), Is.EqualTo(BitConverter.SingleToInt32Bits(C0[at])),
                            $"padding of C was written at [{bi}][{i},{j}]");
                    }
            }
        }

        public void Dispose()
        {
            NativeMemory.AlignedFree(A);
            NativeMemory.AlignedFree(B);
            NativeMemory.AlignedFree(C);
        }
    }

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
                    using var c = new Case(ta, tb, m, n, k, pad: 0);
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
                    using var c = new Case(ta, tb, 67, 45, 93, pad: 5);
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
                    using var c = new Case(ta, tb, m, n, k, pad: 3, cFill: float.NaN);
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
                using var c = new Case(false, true, m, n, k, pad: 2, batch: 5, broadcastA: bA, broadcastB: bB);
                c.Run(1f, 0.5f);
                c.Check(1f, 0.5f);
            }
    }

    [Test]
    public void Batched_with_shared_C_accumulates_in_batch_order()
    {
        const int m = 20, n = 24, k = 30, batch = 4;
        using var c = new Case(false, false, m, n, k, pad: 0, batch: batch);
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
        using var c = new Case(false, false, 4, 5, 0, pad: 1);
        c.Run(1f, 3f);
        c.Check(1f, 3f);
        using var z = new Case(true, true, 40, 50, 0, pad: 1);
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
                            using var c = new Case(ta, tb, 131, 97, 75, pad: 1);
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
        int saved = CpuParallel.Threads;
        try
        {
            var shapes = new (int M, int N, int K, int Batch)[] { (300, 200, 600, 1), (97, 530, 300, 1), (2, 700, 500, 1), (20, 24, 40, 7), (64, 64, 300, 3), (500, 8, 700, 1) };
            foreach (var (m, n, k, batch) in shapes)
                foreach (bool ta in new[] { false, true })
                    foreach (bool tb in new[] { false, true })
                    {
                        using var c = new Case(ta, tb, m, n, k, pad: 1, batch: batch);
                        CpuParallel.Threads = 1;
                        c.Run(1f, 0.5f);
                        var one = c.Result();
                        c.Reset();
                        CpuParallel.Threads = 2;
                        c.Run(1f, 0.5f);
                        var two = c.Result();
                        c.Reset();
                        CpuParallel.Threads = 3;
                        c.Run(1f, 0.5f);
                        var again = c.Result();
                        for (int i = 0; i < one.Length; i++)
                        {
                            if (BitConverter.SingleToInt32Bits(one[i]) != BitConverter.SingleToInt32Bits(two[i]) ||
                                BitConverter.SingleToInt32Bits(two[i]) != BitConverter.SingleToInt32Bits(again[i]))
                                Assert.Fail($"element {i} differs: {one[i]} / {two[i]} / {again[i]} (m={m} n={n} k={k} batch={batch} transA={ta} transB={tb})");
                        }
                    }
        }
        finally { CpuParallel.Threads = saved; }
    }
}
