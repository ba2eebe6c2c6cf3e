using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Finetune.Kernels.Cpu;

/// <summary>
/// The small-GEMM path for the shapes attention and adapters produce (a short k, or a thin m or n): a 6×16 broadcast-FMA
/// register tile runs on the operands where they lie. op(A) is read as scalar broadcasts with any stride; op(B) is read in
/// place when its rows are contiguous (no transB); only what cannot be (all of op(B) when B is transposed, else a partial
/// last 16-column panel: k×n floats at most) is packed, once per call, by <see cref="GemmPack.PackB"/>. Each tile of C is
/// computed whole (all of k, in order) by one task, so the result depends on the shape alone, never on the threads; a
/// product under <see cref="ParallelWork"/> runs without a parallel region.
/// </summary>
/// <remarks>
/// AVX2 + FMA only (<see cref="Supported"/>); on AVX-512 machines the same 256-bit tile runs. Full tiles store straight into
/// C; partial tiles write their sums to scratch and merge with the same rounding (fused alpha·sum + beta·C).
/// </remarks>
internal static unsafe class GemmSmall
{
    public const int Mr = 6, Nr = 16;
    /// <summary>Row tiles per task (48 rows): an A block of 48×k stays in L1/L2 while the task walks its B panels.</summary>
    private const int TilesPerTask = 8;
    /// <summary>B panels per task (64 columns).</summary>
    private const int PanelsPerTask = 4;
    /// <summary>Multiply-adds below which the whole product runs on the calling thread (a parallel region costs more).</summary>
    internal static long ParallelWork = 1L << 19;

    public static bool Supported => Avx2.IsSupported && Fma.IsSupported;

    public static void Run(in GemmProblem p, bool parallel)
    {
        int rowTiles = (p.M + Mr - 1) / Mr, panels = (p.N + Nr - 1) / Nr;
        int rowTasks = (rowTiles + TilesPerTask - 1) / TilesPerTask, colTasks = (panels + PanelsPerTask - 1) / PanelsPerTask;
        long tasks = (long)rowTasks * colTasks;
        var q = p;
        // Panels that cannot be read in place (all of them when B is transposed, else a partial last one) are copied once,
        // by the calling thread, and shared read-only by the tasks.
        int firstCopied = p.TransB ? 0 : p.N / Nr;
        float* copied = firstCopied < panels ? PackPanels(in p, firstCopied, panels) : null;
        if (!parallel || tasks == 1 || (long)p.M * p.N * p.K < ParallelWork)
        {
            for (long t = 0; t < tasks; t++) Task(in q, colTasks, t, firstCopied, copied);
            return;
        }
        nint shared = (nint)copied;
        CpuParallel.For(tasks, 1, (s, e) =>
        {
            for (long t = s; t < e; t++) Task(in q, colTasks, t, firstCopied, (float*)shared);
        });
    }

    /// <summary>Rows [48·r, 48·r + 48) × columns [64·c, 64·c + 64) of C, B panel by B panel, then the epilogue on them.</summary>
    private static void Task(in GemmProblem p, int colTasks, long t, int firstCopied, float* copied)
    {
        int i0 = (int)(t / colTasks) * TilesPerTask * Mr, i1 = Math.Min(p.M, i0 + TilesPerTask * Mr);
        int j0 = (int)(t % colTasks) * PanelsPerTask * Nr, j1 = Math.Min(p.N, j0 + PanelsPerTask * Nr);
        // op(A)(i, q) = a[i·rowStride + q·depthStride]
        long rowStride = p.TransA ? 1 : p.Lda, depthStride = p.TransA ? p.Lda : 1;
        for (int j = j0; j < j1; j += Nr)
        {
            int cols = Math.Min(Nr, j1 - j);
            int panel = j / Nr;
            float* b = panel >= firstCopied ? copied + (long)(panel - firstCopied) * p.K * Nr : p.B + j;
            long ldb = panel >= firstCopied ? Nr : p.Ldb;
            for (int i = i0; i < i1; i += Mr)
            {
                int rows = Math.Min(Mr, i1 - i);
                float* a = p.A + i * rowStride;
                if (rows == Mr && cols == Nr)
                    Tile(p.K, a, rowStride, depthStride, Mr, b, ldb, p.C + (long)i * p.Ldc + j, p.Ldc, p.Alpha, p.Beta);
                else
                    EdgeTile(in p, a, rowStride, depthStride, rows, b, ldb, p.C + (long)i * p.Ldc + j, cols);
            }
        }
        // The finished 48×64 block is still in L1.
        p.Epilogue?.Apply(p.C + (long)i0 * p.Ldc + j0, p.Ldc, i0, j0, i1 - i0, j1 - j0);
    }

    /// <summary>Panels [first, last) of op(B), each as k rows of 16 floats (zero past n), one after another.</summary>
    private static float* PackPanels(in GemmProblem p, int first, int last)
    {
        long panelSize = (long)p.K * Nr;
        float* all = GemmBuffers.Current.B((last - first) * panelSize);
        for (int panel = first; panel < last; panel++)
            GemmPack.PackBPanel(p.TransB, p.B, p.Ldb, 0, p.K, panel * Nr, Math.Min(Nr, p.N - panel * Nr), Nr,
                all + (panel - first) * panelSize);
        return all;
    }

    /// <summary>A partial tile: the sums go to scratch, then the valid part merges into C with <see cref="Tile"/>'s rounding.</summary>
    private static void EdgeTile(in GemmProblem p, float* a, long rowStride, long depthStride, int rows, float* b, long ldb,
        float* c, int cols)
    {
        float* tile = GemmBuffers.Current.Tile;
        Tile(p.K, a, rowStride, depthStride, rows, b, ldb, tile, Nr, 1f, 0f);
        float alpha = p.Alpha, beta = p.Beta;
        for (int r = 0; r < rows; r++)
        {
            float* src = tile + r * Nr, dst = c + (long)r * p.Ldc;
            for (int j = 0; j < cols; j++)
                dst[j] = beta == 0f ? src[j] * alpha : MathF.FusedMultiplyAdd(src[j], alpha, beta == 1f ? dst[j] : dst[j] * beta);
        }
    }

    /// <summary>
    /// C[0..6, 0..16] = alpha·Σq a(i, q)·b[q·ldb + j] + beta·C, q = 0..k-1 in order, a(i, q) = a[i·rowStride + q·depthStride].
    /// Rows at or past <paramref name="rows"/> repeat the last valid row (computed and stored, so C must hold 6 rows: the
    /// edge path passes scratch). beta == 0 never reads C.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile(int k, float* a, long rowStride, long depthStride, int rows, float* b, long ldb, float* c, long ldc,
        float alpha, float beta)
    {
        float* a0 = a, a1 = a + Math.Min(1, rows - 1) * rowStride, a2 = a + Math.Min(2, rows - 1) * rowStride;
        float* a3 = a + Math.Min(3, rows - 1) * rowStride, a4 = a + Math.Min(4, rows - 1) * rowStride;
        float* a5 = a + Math.Min(5, rows - 1) * rowStride;
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        long at = 0;
        for (int q = 0; q < k; q++, at += depthStride, b += ldb)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var x = Vector256.Create(a0[at]); c00 = Fma.MultiplyAdd(x, b0, c00); c01 = Fma.MultiplyAdd(x, b1, c01);
            x = Vector256.Create(a1[at]); c10 = Fma.MultiplyAdd(x, b0, c10); c11 = Fma.MultiplyAdd(x, b1, c11);
            x = Vector256.Create(a2[at]); c20 = Fma.MultiplyAdd(x, b0, c20); c21 = Fma.MultiplyAdd(x, b1, c21);
            x = Vector256.Create(a3[at]); c30 = Fma.MultiplyAdd(x, b0, c30); c31 = Fma.MultiplyAdd(x, b1, c31);
            x = Vector256.Create(a4[at]); c40 = Fma.MultiplyAdd(x, b0, c40); c41 = Fma.MultiplyAdd(x, b1, c41);
            x = Vector256.Create(a5[at]); c50 = Fma.MultiplyAdd(x, b0, c50); c51 = Fma.MultiplyAdd(x, b1, c51);
        }
        Store(c, c00, c01, alpha, beta);
        Store(c + ldc, c10, c11, alpha, beta);
        Store(c + 2 * ldc, c20, c21, alpha, beta);
        Store(c + 3 * ldc, c30, c31, alpha, beta);
        Store(c + 4 * ldc, c40, c41, alpha, beta);
        Store(c + 5 * ldc, c50, c51, alpha, beta);
    }

    /// <summary>One 16-float row of a tile: alpha·sum (beta == 0), else fused alpha·sum + beta·C.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, Vector256<float> s0, Vector256<float> s1, float alpha, float beta)
    {
        var va = Vector256.Create(alpha);
        if (beta == 0f)
        {
            Vector256.Store(s0 * va, c);
            Vector256.Store(s1 * va, c + 8);
            return;
        }
        Vector256<float> c0 = Vector256.Load(c), c1 = Vector256.Load(c + 8);
        if (beta != 1f)
        {
            var vb = Vector256.Create(beta);
            c0 *= vb;
            c1 *= vb;
        }
        Vector256.Store(Fma.MultiplyAdd(s0, va, c0), c);
        Vector256.Store(Fma.MultiplyAdd(s1, va, c1), c + 8);
    }
}
