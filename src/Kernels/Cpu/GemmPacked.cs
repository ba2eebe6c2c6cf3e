using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Finetune.Kernels.Cpu;

/// <summary>
/// Row-major SGEMM: C[i] = alpha·op(A[i])·op(B[i]) + beta·C[i] for i &lt; batch, op(A) m×k, op(B) k×n.
/// A batch stride of 0 broadcasts one matrix (a shared C accumulates over the batch in order). Results repeat
/// bit for bit for the same inputs and sizes: k is cut into equal slices that depend on k alone, and threads
/// only split m and n, so every element of C sees the same sequence of operations.
/// </summary>
/// <remarks>
/// GotoBLAS/BLIS structure: loop over NC-wide column blocks of C, then k slices (at most <see cref="KC"/> deep),
/// then row passes of up to <see cref="MBig"/> rows. Each pass runs a grid of MC-row × panel-range tasks in one
/// parallel region; the task that first needs a kc×MR panel of op(A) or kc×NR panel of op(B) packs it
/// (<see cref="GemmPack"/>), and the register-blocked micro-kernel (<see cref="GemmMicroKernel"/>) runs over
/// the packed panels. Small problems skip packing (<see cref="GemmDirect"/>, <see cref="GemmSmall"/>); a narrow C is computed
/// as Cᵀ. <see cref="PathFor"/> holds the rule.
/// </remarks>
public static unsafe class GemmPacked
{
    /// <summary>Deepest k slice; slices are equal and depend on k alone (never on threads), so rounding repeats exactly.</summary>
    internal static int KC = 512;
    /// <summary>Rows of A one task keeps hot in L2 (rounded to the kernel's MR).</summary>
    internal static int MC = 128;
    /// <summary>Columns of C per outer block (rounded to the kernel's NR).</summary>
    internal static int NC = 4096;
    /// <summary>Rows of A packed per pass, bounding the shared A buffer.</summary>
    internal static int MBig = 4096;
    /// <summary>Multiply-adds at or below which a problem runs unpacked in <see cref="GemmDirect"/> (no small path).</summary>
    internal static long SmallWork = 16 * 16 * 16;
    /// <summary>As <see cref="SmallWork"/> where the small path runs: below it, 6×16 tiles leave most lanes idle.</summary>
    internal static long TinyWork = 8 * 8 * 8;
    /// <summary>Multiply-adds per matrix below which a batch is split across threads instead of each matrix.</summary>
    internal static long BatchParallelWork = 1L << 22;
    /// <summary>Deepest k the small path takes (one pass over all of k per tile).</summary>
    internal static int SmallMaxK = 1024;
    /// <summary>A k, m or n at most this long sends a product (with k ≤ <see cref="SmallMaxK"/>) to the small path.</summary>
    internal static int SmallDim = 64;
    /// <summary>Whether the small path is used at all; benchmarks switch it off to compare with the packed path.</summary>
    internal static bool SmallPath = true;

    /// <summary>The micro-kernel in use; tests and benchmarks may switch it to compare variants.</summary>
    internal static GemmKernelInfo Kernel { get; set; } = GemmKernelInfo.Best;

    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, long strideA, float* b, int ldb, long strideB,
        float beta, float* c, int ldc, long strideC, int batch) =>
        Sgemm(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch, null);

    /// <summary>As above, with <paramref name="epilogue"/> applied to C's tiles as they finish (batch 1 only).</summary>
    internal static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, long strideA, float* b, int ldb, long strideB,
        float beta, float* c, int ldc, long strideC, int batch, GemmEpilogue? epilogue)
    {
        if (epilogue is not null && batch > 1) throw new ArgumentException($"Sgemm: an epilogue needs batch 1, got {batch}");
        if (m < 0 || n < 0 || k < 0 || batch < 0)
            throw new ArgumentOutOfRangeException(nameof(m), $"Sgemm: negative size m={m} n={n} k={k} batch={batch}");
        if (m == 0 || n == 0 || batch == 0) return;
        CheckLeading(transA, transB, m, n, k, lda, ldb, ldc);

        var p = new GemmProblem(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, epilogue: epilogue);
        long work = (long)m * n * Math.Max(k, 1);
        // Many small matrices: one thread per matrix beats splitting each one. A shared C (strideC == 0)
        // accumulates over the batch in order, so it stays sequential.
        if (batch > 1 && strideC != 0 && CpuParallel.Threads > 1 && work < BatchParallelWork)
        {
            nint pa = (nint)a, pb = (nint)b, pc = (nint)c;
            var kernel = Kernel;
            CpuParallel.For(batch, Math.Max(1, (1L << 18) / work), (s, e) =>
            {
                for (long i = s; i < e; i++)
                {
                    var q = p.At((float*)pa + i * strideA, (float*)pb + i * strideB, (float*)pc + i * strideC);
                    Run(in q, kernel, parallel: false);
                }
            });
            return;
        }
        for (long i = 0; i < batch; i++)
        {
            var q = p.At(a + i * strideA, b + i * strideB, c + i * strideC);
            Run(in q, Kernel, parallel: CpuParallel.Threads > 1);
        }
    }

    /// <summary>
    /// C = alpha·[op(A1) | op(A2)]·[op(B1) ; op(B2)] + beta·C (batch 1): one GEMM over the concatenated inner dimension
    /// k1 + k2, each segment with its own pointers, leading dimensions and transposes. The k slices depend on k1 + k2
    /// alone; a slice that straddles k1 packs its panels from both sources, and <paramref name="epilogue"/> runs once
    /// after the last slice.
    /// </summary>
    internal static void Sgemm(bool transA1, bool transB1, int m, int n, int k1, float alpha, float* a1, int lda1, float* b1, int ldb1,
        bool transA2, bool transB2, int k2, float* a2, int lda2, float* b2, int ldb2, float beta, float* c, int ldc,
        GemmEpilogue? epilogue = null)
    {
        if (m < 0 || n < 0 || k1 < 0 || k2 < 0)
            throw new ArgumentOutOfRangeException(nameof(m), $"Sgemm: negative size m={m} n={n} k1={k1} k2={k2}");
        if (m == 0 || n == 0) return;
        CheckLeading(transA1, transB1, m, n, k1, lda1, ldb1, ldc);
        CheckLeading(transA2, transB2, m, n, k2, lda2, ldb2, ldc);
        var second = new GemmSegment(transA2, transB2, k2, a2, lda2, b2, ldb2);
        var p = new GemmProblem(transA1, transB1, m, n, k1, alpha, a1, lda1, b1, ldb1, beta, c, ldc, epilogue: epilogue, second: second);
        Run(in p, Kernel, parallel: CpuParallel.Threads > 1);
    }

    /// <summary>A leading dimension only matters when the matrix has more than one row in memory.</summary>
    private static void CheckLeading(bool transA, bool transB, int m, int n, int k, int lda, int ldb, int ldc)
    {
        if ((transA ? k > 1 && lda < m : m > 1 && lda < k) || (transB ? n > 1 && ldb < k : k > 1 && ldb < n) || (m > 1 && ldc < n))
            throw new ArgumentException($"Sgemm: leading dimensions too small (m={m} n={n} k={k} transA={transA} transB={transB} lda={lda} "
                + $"ldb={ldb} ldc={ldc})");
    }

    private static void Run(in GemmProblem p, GemmKernelInfo kernel, bool parallel)
    {
        var path = PathFor(p.M, p.N, p.K, p.Alpha, kernel, p.Epilogue is not null);
        if (p.Second.K > 0 && path is GemmPath.Direct or GemmPath.Small)
        {
            // The unpacked paths read operands in place: two inner segments run as two products, the second onto the first.
            Run(p.First(), kernel, parallel);
            Run(p.SecondOnto(), kernel, parallel);
            p.Epilogue?.Apply(p.C, p.Ldc, 0, 0, p.M, p.N);
            return;
        }
        switch (path)
        {
            case GemmPath.Scale:
                GemmDirect.ScaleC(in p);
                p.Epilogue?.Apply(p.C, p.Ldc, 0, 0, p.M, p.N);
                break;
            case GemmPath.Direct:
                GemmDirect.Run(in p, parallel);
                p.Epilogue?.Apply(p.C, p.Ldc, 0, 0, p.M, p.N); // small: one pass after the product costs little
                break;
            case GemmPath.Small:
                GemmSmall.Run(in p, parallel);
                break;
            case GemmPath.PackedTransposed:
                GemmDriver.Run(p.Transposed(), kernel, parallel); // narrow C (e.g. a LoRA rank): compute Cᵀ so the wide tile
                break;                                            // dimension runs along m
            default:
                GemmDriver.Run(in p, kernel, parallel);
                break;
        }
    }

    /// <summary>
    /// Which path computes one m×n×k product; the shape alone decides (never the thread count or the batch), so a shape's
    /// bits never change with either. In order: nothing to multiply scales C; a row vector or a tiny product (at most
    /// <see cref="TinyWork"/> multiply-adds, or <see cref="SmallWork"/> where the small path cannot run) runs unpacked in
    /// <see cref="GemmDirect"/>; a C at most NR/2 wide and taller than wide goes packed as Cᵀ; a product with
    /// k ≤ <see cref="SmallMaxK"/> and either a short k (≤ <see cref="SmallDim"/>) or a thin m or n (≤ <see cref="SmallDim"/>)
    /// runs on <see cref="GemmSmall"/>; the rest is packed.
    /// </summary>
    internal static GemmPath PathFor(int m, int n, int k, float alpha, GemmKernelInfo kernel, bool epilogue)
    {
        if (k == 0 || alpha == 0f) return GemmPath.Scale;
        bool small = SmallPath && GemmSmall.Supported;
        // Packing pays off only when each packed element is reused enough.
        if ((long)m * n * k <= (small ? TinyWork : SmallWork) || m <= 2) return GemmPath.Direct;
        if (2 * n <= kernel.Nr && m > n && !epilogue) return GemmPath.PackedTransposed;
        if (small && k <= SmallMaxK && (k <= SmallDim || Math.Min(m, n) <= SmallDim)) return GemmPath.Small;
        return GemmPath.Packed;
    }
}

/// <summary>The routes <see cref="GemmPacked.PathFor"/> chooses between.</summary>
internal enum GemmPath { Scale, Direct, Small, Packed, PackedTransposed }

/// <summary>
/// One matrix of a (possibly batched) SGEMM call. The inner dimension may be two segments, [op(A) | op(A2)]·[op(B) ; op(B2)]:
/// the fields without a suffix are the first (depth <see cref="K1"/>), <see cref="Second"/> the other (depth 0 when absent),
/// <see cref="K"/> the whole depth.
/// </summary>
internal readonly unsafe struct GemmProblem(bool transA, bool transB, int m, int n, int k, float alpha,
    float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, bool transC = false, GemmEpilogue? epilogue = null,
    GemmSegment second = default)
{
    public readonly bool TransA = transA, TransB = transB;
    /// <summary>C is stored transposed: element (i, j) lives at C[j·ldc + i].</summary>
    public readonly bool TransC = transC;
    public readonly int M = m, N = n, K = k + second.K, K1 = k, Lda = lda, Ldb = ldb, Ldc = ldc;
    public readonly float Alpha = alpha, Beta = beta;
    public readonly float* A = a, B = b, C = c;
    /// <summary>Applied to each finished tile of C at the last k slice (never with <see cref="TransC"/>).</summary>
    public readonly GemmEpilogue? Epilogue = epilogue;
    public readonly GemmSegment Second = second;

    public GemmProblem At(float* a, float* b, float* c) =>
        new(TransA, TransB, M, N, K1, Alpha, a, Lda, b, Ldb, Beta, c, Ldc, TransC, Epilogue, Second);

    /// <summary>The same product as Cᵀ = op(B)ᵀ·op(A)ᵀ (each segment transposed in place).</summary>
    public GemmProblem Transposed() =>
        new(!TransB, !TransA, N, M, K1, Alpha, B, Ldb, A, Lda, Beta, C, Ldc, !TransC, Epilogue, Second.Transposed());

    /// <summary>The first segment alone (C = alpha·op(A)·op(B) + beta·C), without the epilogue.</summary>
    public GemmProblem First() => new(TransA, TransB, M, N, K1, Alpha, A, Lda, B, Ldb, Beta, C, Ldc, TransC);

    /// <summary>The second segment alone, accumulated onto C (beta 1), without the epilogue.</summary>
    public GemmProblem SecondOnto() =>
        new(Second.TransA, Second.TransB, M, N, Second.K, Alpha, Second.A, Second.Lda, Second.B, Second.Ldb, 1f, C, Ldc, TransC);
}

/// <summary>A segment of a GEMM's inner dimension: op(A) m×k and op(B) k×n.</summary>
internal readonly unsafe struct GemmSegment(bool transA, bool transB, int k, float* a, int lda, float* b, int ldb)
{
    public readonly bool TransA = transA, TransB = transB;
    public readonly int K = k, Lda = lda, Ldb = ldb;
    public readonly float* A = a, B = b;

    public GemmSegment Transposed() => new(!TransB, !TransA, K, B, Ldb, A, Lda);
}

/// <summary>A micro-kernel and its tile shape.</summary>
internal sealed unsafe class GemmKernelInfo(string name, int mr, int nr, bool fused,
    delegate*<int, float*, float*, float*, long, float, float, void> body)
{
    public string Name { get; } = name;
    public int Mr { get; } = mr;
    public int Nr { get; } = nr;
    /// <summary>Whether the kernel's epilogue uses fused multiply-add (edge tiles must round the same way).</summary>
    public bool Fused { get; } = fused;
    public delegate*<int, float*, float*, float*, long, float, float, void> Body { get; } = body;

    public static readonly GemmKernelInfo Avx512 = new("avx512", GemmMicroKernel.Avx512Mr, GemmMicroKernel.Avx512Nr, true,
        &GemmMicroKernel.Avx512Kernel);
    public static readonly GemmKernelInfo Avx2 = new("avx2", GemmMicroKernel.Avx2Mr, GemmMicroKernel.Avx2Nr, true,
        &GemmMicroKernel.Avx2Kernel);
    public static readonly GemmKernelInfo Portable = new("portable", 4, 8, false, &GemmMicroKernel.PortableKernel);

    public static GemmKernelInfo Best =>
        Avx512F.IsSupported ? Avx512 : System.Runtime.Intrinsics.X86.Avx2.IsSupported && Fma.IsSupported ? Avx2 : Portable;

    /// <summary>The kernels this machine can run.</summary>
    public static IReadOnlyList<GemmKernelInfo> Supported()
    {
        var list = new List<GemmKernelInfo>();
        if (Avx512F.IsSupported) list.Add(Avx512);
        if (System.Runtime.Intrinsics.X86.Avx2.IsSupported && Fma.IsSupported) list.Add(Avx2);
        list.Add(Portable);
        return list;
    }

    public override string ToString() => $"{Name} {Mr}x{Nr}";
}
