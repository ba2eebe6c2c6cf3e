using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Finetune.Kernels.Cpu;

/// <summary>
/// The unpacked path for problems too small (or too thin) to repay packing: each element of C is computed
/// whole by one task, so the result does not depend on how tasks are spread over threads.
/// </summary>
internal static unsafe class GemmDirect
{
    /// <summary>Columns of C per task.</summary>
    private const int ColumnsPerTask = 256;

    /// <summary>C = beta·C (k == 0 or alpha == 0); beta == 0 writes zeros without reading C.</summary>
    public static void ScaleC(in GemmProblem p)
    {
        for (int i = 0; i < p.M; i++)
        {
            float* row = p.C + (long)i * p.Ldc;
            if (p.Beta == 0f) new Span<float>(row, p.N).Clear();
            else if (p.Beta != 1f) for (int j = 0; j < p.N; j++) row[j] *= p.Beta;
        }
    }

    public static void Run(in GemmProblem p, bool parallel)
    {
        if (p.Second.K > 0)
        {
            // Two inner segments: the products in sequence, the second onto the first.
            Run(p.First(), parallel);
            Run(p.SecondOnto(), parallel);
            return;
        }
        int chunks = (p.N + ColumnsPerTask - 1) / ColumnsPerTask;
        long items = (long)p.M * chunks;
        long perItem = (long)Math.Min(ColumnsPerTask, p.N) * p.K;
        var q = p;
        if (!parallel || items == 1 || items * perItem < (1 << 16))
        {
            for (long t = 0; t < items; t++) Item(in q, chunks, t);
            return;
        }
        CpuParallel.For(items, Math.Max(1, (1L << 16) / perItem), (s, e) =>
        {
            for (long t = s; t < e; t++) Item(in q, chunks, t);
        });
    }

    private static void Item(in GemmProblem p, int chunks, long t)
    {
        int i = (int)(t / chunks);
        int j0 = (int)(t % chunks) * ColumnsPerTask;
        int j1 = Math.Min(p.N, j0 + ColumnsPerTask);
        if (p.TransB) DotRow(in p, i, j0, j1);
        else AxpyRow(in p, i, j0, j1);
    }

    /// <summary>op(B) = B (k×n row-major): C[i, j0..j1] accumulates a(i,p)·B[p, j0..j1] over p in order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AxpyRow(in GemmProblem p, int i, int j0, int j1)
    {
        float* a = p.A, b = p.B;
        long lda = p.Lda, ldb = p.Ldb;
        long aStep = p.TransA ? lda : 1;
        float* ai = p.TransA ? a + i : a + i * lda;
        float* c = p.C + i * (long)p.Ldc;
        int k = p.K, j = j0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; j + 32 <= j1; j += 32)
            {
                Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
                float* bp = b + j;
                for (int q = 0; q < k; q++, bp += ldb)
                {
                    var av = Vector256.Create(ai[q * aStep]);
                    s0 = Madd(av, Vector256.Load(bp), s0);
                    s1 = Madd(av, Vector256.Load(bp + 8), s1);
                    s2 = Madd(av, Vector256.Load(bp + 16), s2);
                    s3 = Madd(av, Vector256.Load(bp + 24), s3);
                }
                Store(c + j, s0, p.Alpha, p.Beta);
                Store(c + j + 8, s1, p.Alpha, p.Beta);
                Store(c + j + 16, s2, p.Alpha, p.Beta);
                Store(c + j + 24, s3, p.Alpha, p.Beta);
            }
            for (; j + 8 <= j1; j += 8)
            {
                Vector256<float> s0 = default;
                float* bp = b + j;
                for (int q = 0; q < k; q++, bp += ldb) s0 = Madd(Vector256.Create(ai[q * aStep]), Vector256.Load(bp), s0);
                Store(c + j, s0, p.Alpha, p.Beta);
            }
        }
        for (; j < j1; j++)
        {
            float s = 0f;
            float* bp = b + j;
            for (int q = 0; q < k; q++, bp += ldb) s += ai[q * aStep] * *bp;
            c[j] = p.Beta == 0f ? p.Alpha * s : p.Alpha * s + p.Beta * c[j];
        }
    }

    /// <summary>op(B) = Bᵀ (B is n×k): C[i, j] is a dot product of op(A) row i with row j of B.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotRow(in GemmProblem p, int i, int j0, int j1)
    {
        int k = p.K;
        float* ai;
        if (p.TransA)
        {
            // Gather the strided column of A once so every dot product reads it contiguously.
            ai = GemmBuffers.Current.Row(k);
            for (int q = 0; q < k; q++) ai[q] = p.A[(long)q * p.Lda + i];
        }
        else ai = p.A + (long)i * p.Lda;
        float* c = p.C + i * (long)p.Ldc;
        for (int j = j0; j < j1; j++)
        {
            float* bj = p.B + (long)j * p.Ldb;
            int q = 0;
            float s = 0f;
            if (Vector256.IsHardwareAccelerated && k >= 32)
            {
                Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
                for (; q + 32 <= k; q += 32)
                {
                    s0 = Madd(Vector256.Load(ai + q), Vector256.Load(bj + q), s0);
                    s1 = Madd(Vector256.Load(ai + q + 8), Vector256.Load(bj + q + 8), s1);
                    s2 = Madd(Vector256.Load(ai + q + 16), Vector256.Load(bj + q + 16), s2);
                    s3 = Madd(Vector256.Load(ai + q + 24), Vector256.Load(bj + q + 24), s3);
                }
                s = Vector256.Sum((s0 + s1) + (s2 + s3));
            }
            for (; q < k; q++) s += ai[q] * bj[q];
            c[j] = p.Beta == 0f ? p.Alpha * s : p.Alpha * s + p.Beta * c[j];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Madd(Vector256<float> a, Vector256<float> b, Vector256<float> c) =>
        Fma.IsSupported ? Fma.MultiplyAdd(a, b, c) : a * b + c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, Vector256<float> s, float alpha, float beta)
    {
        var v = s * Vector256.Create(alpha);
        if (beta != 0f) v += Vector256.Load(c) * Vector256.Create(beta);
        Vector256.Store(v, c);
    }
}
