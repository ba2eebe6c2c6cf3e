using System.Runtime.InteropServices;
using Finetune.Kernels.Cpu;
using NUnit.Framework;

namespace Finetune.Tests.Kernels;

/// <summary>A problem with its own native buffers; leading dimensions may exceed the minimum.</summary>
internal sealed unsafe class GemmCase : IDisposable
{
    private const double Eps = 1.1920929e-7;

    public readonly bool TA, TB;
    public readonly int M, N, K, Lda, Ldb, Ldc, Batch;
    public readonly long SA, SB, SC;
    public readonly float* A, B, C;
    public readonly float[] C0;
    private readonly long _na, _nb, _nc;

    public GemmCase(bool ta, bool tb, int m, int n, int k, int pad, int batch = 1, bool broadcastA = false, bool broadcastB = false, int seed = 1, float cFill = float.NaN)
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

    /// <summary>
    /// Runs C = 1·op(A)·op(B) + 0.5·C once per thread count (from the same C) and fails unless every run has the same bits.
    /// </summary>
    public void AssertSameBitsWithThreads(params int[] threadCounts)
    {
        int saved = CpuParallel.Threads;
        try
        {
            float[]? first = null;
            foreach (int threads in threadCounts)
            {
                Reset();
                CpuParallel.Threads = threads;
                Run(1f, 0.5f);
                var got = Result();
                first ??= got;
                for (int i = 0; i < got.Length; i++)
                    if (BitConverter.SingleToInt32Bits(first[i]) != BitConverter.SingleToInt32Bits(got[i]))
                        Assert.Fail($"element {i} differs: {first[i]} with {threadCounts[0]} thread(s), {got[i]} with {threads} "
                            + $"(m={M} n={N} k={K} batch={Batch} transA={TA} transB={TB})");
            }
        }
        finally { CpuParallel.Threads = saved; }
    }

    public void Dispose()
    {
        NativeMemory.AlignedFree(A);
        NativeMemory.AlignedFree(B);
        NativeMemory.AlignedFree(C);
    }
}
