using System.Runtime.InteropServices;
using Finetune.Kernels;
using Finetune.Kernels.Cpu;
using NUnit.Framework;

namespace Finetune.Tests.Kernels;

/// <summary>The packed SGEMM over a concatenated inner dimension: C = alpha·[op(A1) | op(A2)]·[op(B1) ; op(B2)] + beta·C.</summary>
[TestFixture]
public unsafe class GemmTwoSegmentTests
{
    private const double Eps = 1.1920929e-7;

    /// <summary>One segment's operands in the storage its transposes ask for (leading dimensions padded).</summary>
    private sealed class Segment : IDisposable
    {
        public readonly bool TA, TB;
        public readonly int K, Lda, Ldb;
        public readonly float* A, B;
        private readonly int _m, _n;

        public Segment(bool ta, bool tb, int m, int n, int k, int seed)
        {
            TA = ta; TB = tb; K = k; _m = m; _n = n;
            Lda = (ta ? m : k) + 3; Ldb = (tb ? k : n) + 2;
            long sizeA = (long)(ta ? k : m) * Lda, sizeB = (long)(tb ? n : k) * Ldb;
            A = Alloc(sizeA); B = Alloc(sizeB);
            var rng = new Random(seed);
            for (long i = 0; i < sizeA; i++) A[i] = (float)(rng.NextDouble() * 2 - 1);
            for (long i = 0; i < sizeB; i++) B[i] = (float)(rng.NextDouble() * 2 - 1);
        }

        public float OpA(int i, int p) => TA ? A[(long)p * Lda + i] : A[(long)i * Lda + p];
        public float OpB(int p, int j) => TB ? B[(long)j * Ldb + p] : B[(long)p * Ldb + j];

        public void Dispose()
        {
            NativeMemory.AlignedFree(A);
            NativeMemory.AlignedFree(B);
        }
    }

    private static float* Alloc(long n) => (float*)NativeMemory.AlignedAlloc((nuint)(Math.Max(1, n) * sizeof(float)), 64);

    private static float[] Run(Segment s1, Segment s2, int m, int n, float alpha, float beta, float[] c0, GemmEpilogue? epilogue = null)
    {
        var c = (float[])c0.Clone();
        fixed (float* pc = c)
            GemmPacked.Sgemm(s1.TA, s1.TB, m, n, s1.K, alpha, s1.A, s1.Lda, s1.B, s1.Ldb, s2.TA, s2.TB, s2.K, s2.A, s2.Lda, s2.B, s2.Ldb,
                beta, pc, n, epilogue);
        return c;
    }

    private static float[] Fill(int count, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    }

    /// <summary>Compares with a float64 reference; the bound grows like sqrt(k)·eps of the absolute sum.</summary>
    private static void Check(Segment s1, Segment s2, int m, int n, float alpha, float beta, float[] c0, float[] got)
    {
        int k = s1.K + s2.K;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0, abs = 0;
                for (int p = 0; p < s1.K; p++) { double v = (double)s1.OpA(i, p) * s1.OpB(p, j); s += v; abs += Math.Abs(v); }
                for (int p = 0; p < s2.K; p++) { double v = (double)s2.OpA(i, p) * s2.OpB(p, j); s += v; abs += Math.Abs(v); }
                double expected = alpha * s + beta * c0[i * n + j];
                double tol = (4 * Math.Sqrt(k) + 4) * Eps * (Math.Abs(alpha) * abs + Math.Abs(beta * c0[i * n + j])) + 1e-30;
                if (!(Math.Abs(got[i * n + j] - expected) <= tol))
                    Assert.Fail($"C[{i},{j}] = {got[i * n + j]}, expected {expected} ± {tol} (m={m} n={n} k1={s1.K} k2={s2.K} "
                        + $"transA={s1.TA}/{s2.TA} transB={s1.TB}/{s2.TB} alpha={alpha} beta={beta})");
            }
    }

    /// <summary>Sizes: odd, k2 = 1, k1 past one 512-deep slice (600: two slices straddle nothing; 700 + 9: the split falls
    /// inside the second slice), narrow C (n ≤ 8: computed as Cᵀ), tiny (unpacked, two products in sequence).</summary>
    private static readonly (int M, int N, int K1, int K2)[] Sizes =
    [
        (37, 53, 29, 8), (61, 70, 300, 1), (130, 65, 600, 16), (33, 41, 700, 9), (97, 5, 530, 13), (300, 8, 70, 3),
        (3, 4, 5, 2), (2, 90, 40, 7), (16, 16, 16, 16),
    ];

    [Test]
    public void Two_segments_match_a_float64_reference_over_transposes_sizes_and_alpha_beta()
    {
        int seed = 1;
        foreach (var (m, n, k1, k2) in Sizes)
            foreach (int t in Enumerable.Range(0, 16))
            {
                using var s1 = new Segment((t & 1) != 0, (t & 2) != 0, m, n, k1, seed++);
                using var s2 = new Segment((t & 4) != 0, (t & 8) != 0, m, n, k2, seed++);
                var (alpha, beta) = (t % 3) switch { 0 => (1f, 0f), 1 => (0.5f, -2f), _ => (-1.25f, 1f) };
                var c0 = Fill(m * n, seed++);
                Check(s1, s2, m, n, alpha, beta, c0, Run(s1, s2, m, n, alpha, beta, c0));
            }
    }

    [Test]
    public void Small_slices_straddle_the_segment_boundary_and_still_match()
    {
        int kc = GemmPacked.KC;
        GemmPacked.KC = 16;
        try
        {
            foreach (var (m, n, k1, k2) in new[] { (131, 97, 75, 11), (90, 6, 20, 30), (40, 50, 5, 1) })
                foreach (int t in Enumerable.Range(0, 16))
                {
                    using var s1 = new Segment((t & 1) != 0, (t & 2) != 0, m, n, k1, t);
                    using var s2 = new Segment((t & 4) != 0, (t & 8) != 0, m, n, k2, t + 100);
                    var c0 = Fill(m * n, t);
                    Check(s1, s2, m, n, 1.5f, 0.5f, c0, Run(s1, s2, m, n, 1.5f, 0.5f, c0));
                }
        }
        finally { GemmPacked.KC = kc; }
    }

    /// <summary>The packed path packs the same panels either way, so the result is the one-segment GEMM's bit for bit.</summary>
    [Test]
    public void Packed_path_equals_one_gemm_over_the_concatenated_operands_bit_for_bit_with_an_epilogue_and_narrow_C()
    {
        // The claim is about the packed path: keep these shapes off the small path, which splits two segments into two products.
        bool small = GemmPacked.SmallPath;
        GemmPacked.SmallPath = false;
        try { PackedEqualsConcatenated(); }
        finally { GemmPacked.SmallPath = small; }
    }

    private static void PackedEqualsConcatenated()
    {
        foreach (var (m, n, k1, k2) in new[] { (130, 65, 600, 16), (61, 70, 300, 1), (97, 5, 530, 13), (300, 8, 70, 3) })
            foreach (bool epilogueOn in new[] { false, true })
            {
                using var s1 = new Segment(false, true, m, n, k1, 7);
                using var s2 = new Segment(true, false, m, n, k2, 8);
                int k = k1 + k2;
                var a = new float[m * k];
                var b = new float[k * n];
                for (int i = 0; i < m; i++)
                    for (int p = 0; p < k; p++) a[i * k + p] = p < k1 ? s1.OpA(i, p) : s2.OpA(i, p - k1);
                for (int p = 0; p < k; p++)
                    for (int j = 0; j < n; j++) b[p * n + j] = p < k1 ? s1.OpB(p, j) : s2.OpB(p - k1, j);
                var c0 = Fill(m * n, 9);
                var bias = Fill(n, 10);
                fixed (float* pbias = bias, pa = a, pb = b)
                {
                    var epilogue = epilogueOn
                        ? new GemmEpilogue(n, pbias, EpilogueActivation.GeluErf, DropoutStream.None, null, null) : null;
                    var expected = (float[])c0.Clone();
                    fixed (float* pe = expected)
                        GemmPacked.Sgemm(false, false, m, n, k, 0.75f, pa, k, 0, pb, n, 0, 0.5f, pe, n, 0, 1, epilogue);
                    var got = Run(s1, s2, m, n, 0.75f, 0.5f, c0, epilogue);
                    for (int i = 0; i < expected.Length; i++)
                        if (BitConverter.SingleToInt32Bits(got[i]) != BitConverter.SingleToInt32Bits(expected[i]))
                            Assert.Fail($"element {i}: {got[i]} vs {expected[i]} (m={m} n={n} k1={k1} k2={k2} epilogue={epilogueOn})");
                }
            }
    }

    [Test]
    public void Results_repeat_bit_for_bit_on_1_and_2_threads()
    {
        int saved = CpuParallel.Threads;
        try
        {
            foreach (var (m, n, k1, k2) in Sizes)
                foreach (int t in new[] { 0, 5, 10, 15 })
                {
                    using var s1 = new Segment((t & 1) != 0, (t & 2) != 0, m, n, k1, t);
                    using var s2 = new Segment((t & 4) != 0, (t & 8) != 0, m, n, k2, t + 1);
                    var c0 = Fill(m * n, t);
                    CpuParallel.Threads = 1;
                    var one = Run(s1, s2, m, n, 1f, 0.5f, c0);
                    CpuParallel.Threads = 2;
                    var two = Run(s1, s2, m, n, 1f, 0.5f, c0);
                    for (int i = 0; i < one.Length; i++)
                        if (BitConverter.SingleToInt32Bits(one[i]) != BitConverter.SingleToInt32Bits(two[i]))
                            Assert.Fail($"element {i}: {one[i]} vs {two[i]} (m={m} n={n} k1={k1} k2={k2})");
                }
        }
        finally { CpuParallel.Threads = saved; }
    }
}
