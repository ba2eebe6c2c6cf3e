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
/// the packed panels. Small problems skip packing (<see cref="GemmDirect"/>); a narrow C is computed as Cᵀ.
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
    /// <summary>Multiply-adds below which a problem runs unpacked.</summary>
    internal static long SmallWork = 16 * 16 * 16;
    /// <summary>Multiply-adds per matrix below which a batch is split across threads instead of each matrix.</summary>
    internal static long BatchParallelWork = 1L << 22;

    /// <summary>The micro-kernel in use; tests and benchmarks may switch it to compare variants.</summary>
    internal static GemmKernelInfo Kernel { get; set; } = GemmKernelInfo.Best;

    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, long strideA, float* b, int ldb, long strideB,
        float beta, float* c, int ldc, long strideC, int batch)
    {
        if (m < 0 || n < 0 || k < 0 || batch < 0)
            throw new ArgumentOutOfRangeException(nameof(m), $"Sgemm: negative size m={m} n={n} k={k} batch={batch}");
        if (m == 0 || n == 0 || batch == 0) return;
        // A leading dimension only matters when the matrix has more than one row in memory.
        if ((transA ? k > 1 && lda < m : m > 1 && lda < k) || (transB ? n > 1 && ldb < k : k > 1 && ldb < n) || (m > 1 && ldc < n))
            throw new ArgumentException($"Sgemm: leading dimensions too small (m={m} n={n} k={k} transA={transA} transB={transB} lda={lda} ldb={ldb} ldc={ldc})");

        var p = new GemmProblem(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
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

    private static void Run(in GemmProblem p, GemmKernelInfo kernel, bool parallel)
    {
        if (p.K == 0 || p.Alpha == 0f)
        {
            GemmDirect.ScaleC(in p);
            return;
        }
        long work = (long)p.M * p.N * p.K;
        // Packing pays off only when each packed element is reused enough; every choice here depends on the shape alone.
        if (work <= SmallWork || p.M <= 2)
            GemmDirect.Run(in p, parallel);
        else if (2 * p.N <= kernel.Nr && p.M > p.N)
            GemmDriver.Run(p.Transposed(), kernel, parallel); // narrow C (e.g. a LoRA rank): compute Cᵀ so the wide tile dimension runs along m
        else
            GemmDriver.Run(in p, kernel, parallel);
    }
}

/// <summary>One matrix of a (possibly batched) SGEMM call.</summary>
internal readonly unsafe struct GemmProblem(bool transA, bool transB, int m, int n, int k, float alpha,
    float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, bool transC = false)
{
    public readonly bool TransA = transA, TransB = transB;
    /// <summary>C is stored transposed: element (i, j) lives at C[j·ldc + i].</summary>
    public readonly bool TransC = transC;
    public readonly int M = m, N = n, K = k, Lda = lda, Ldb = ldb, Ldc = ldc;
    public readonly float Alpha = alpha, Beta = beta;
    public readonly float* A = a, B = b, C = c;

    public GemmProblem At(float* a, float* b, float* c) => new(TransA, TransB, M, N, K, Alpha, a, Lda, b, Ldb, Beta, c, Ldc, TransC);

    /// <summary>The same product as Cᵀ = op(B)ᵀ·op(A)ᵀ.</summary>
    public GemmProblem Transposed() => new(!TransB, !TransA, N, M, K, Alpha, B, Ldb, A, Lda, Beta, C, Ldc, !TransC);
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

    public static readonly GemmKernelInfo Avx512 = new("avx512", GemmMicroKernel.Avx512Mr, GemmMicroKernel.Avx512Nr, true, &GemmMicroKernel.Avx512Kernel);
    public static readonly GemmKernelInfo Avx2 = new("avx2", GemmMicroKernel.Avx2Mr, GemmMicroKernel.Avx2Nr, true, &GemmMicroKernel.Avx2Kernel);
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

/// <summary>
/// Per-thread packing memory: 64-byte aligned native blocks that grow on demand and are reused across calls,
/// freed when the owning thread's holder is collected.
/// </summary>
internal sealed unsafe class GemmBuffers
{
    [ThreadStatic] private static GemmBuffers? _current;
    public static GemmBuffers Current => _current ??= new GemmBuffers();

    private float* _a, _b, _row, _tile;
    private long _aSize, _bSize, _rowSize;

    public float* A(long floats) => Ensure(ref _a, ref _aSize, floats);
    public float* B(long floats) => Ensure(ref _b, ref _bSize, floats);
    public float* Row(long floats) => Ensure(ref _row, ref _rowSize, floats);
    /// <summary>Scratch for one edge tile.</summary>
    public float* Tile => _tile != null ? _tile : _tile = (float*)NativeMemory.AlignedAlloc(64 * 64 * sizeof(float), 64);

    private static float* Ensure(ref float* p, ref long size, long floats)
    {
        if (size >= floats) return p;
        if (p != null) NativeMemory.AlignedFree(p);
        // Round up so slowly growing requests do not reallocate every call.
        long alloc = Math.Max(floats, size + size / 2);
        p = (float*)NativeMemory.AlignedAlloc((nuint)(alloc * sizeof(float)), 64);
        size = alloc;
        return p;
    }

    ~GemmBuffers()
    {
        if (_a != null) NativeMemory.AlignedFree(_a);
        if (_b != null) NativeMemory.AlignedFree(_b);
        if (_row != null) NativeMemory.AlignedFree(_row);
        if (_tile != null) NativeMemory.AlignedFree(_tile);
    }
}

/// <summary>The packed, blocked path: loops around the micro-kernel, packing and threading.</summary>
internal sealed unsafe class GemmDriver
{
    [ThreadStatic] private static GemmDriver? _current;

    private GemmProblem _p;
    private GemmKernelInfo _k = GemmKernelInfo.Portable;
    private float* _packA, _packB;
    // Current block: columns [jc, jc+nc), depth [pc, pc+kc), rows [ic, ic+mcAll).
    private int _jc, _nc, _pc, _kc, _ic, _mcAll;
    private float _betaEff;
    private int _panelsA, _panelsB;
    private int _mBlock, _mBlocks, _nBlockPanels, _nBlocks;
    // Per-panel packing state (Unpacked, Packing, Ready): the task that first needs a panel packs it, so packing
    // and compute share one parallel region instead of two separated by a barrier.
    private int[] _stateA = [], _stateB = [];
    private const int Unpacked = 0, Packing = 1, Ready = 2;
    private readonly Action<long, long> _computeBody;

    private GemmDriver()
    {
        _computeBody = ComputeRange;
    }

    public static void Run(in GemmProblem p, GemmKernelInfo kernel, bool parallel)
    {
        // One driver per calling thread; workers only read its fields.
        var d = _current ??= new GemmDriver();
        d._p = p;
        d._k = kernel;
        d.Execute(parallel);
        d._p = default;
    }

    private void Execute(bool parallel)
    {
        int mr = _k.Mr, nr = _k.Nr;
        int m = _p.M, n = _p.N, k = _p.K;
        int threads = parallel ? CpuParallel.Threads : 1;
        // Equal k slices (e.g. 600 -> 300 + 300, not 512 + 88): a thin last slice would pay a full pass over C for little work.
        int slices = (k + GemmPacked.KC - 1) / GemmPacked.KC;
        int kcMax = (k + slices - 1) / slices;
        int ncMax = RoundUp(Math.Min(RoundUp(GemmPacked.NC, nr), n), nr);
        int mBig = RoundUp(Math.Min(RoundUp(GemmPacked.MBig, mr), m), mr);
        var bufs = GemmBuffers.Current;
        _packB = bufs.B((long)kcMax * ncMax);
        _packA = bufs.A((long)kcMax * mBig);

        for (_jc = 0; _jc < n; _jc += ncMax)
        {
            _nc = Math.Min(ncMax, n - _jc);
            _panelsB = (_nc + nr - 1) / nr;
            for (_pc = 0; _pc < k; _pc += kcMax)
            {
                _kc = Math.Min(kcMax, k - _pc);
                _betaEff = _pc == 0 ? _p.Beta : 1f;
                for (_ic = 0; _ic < m; _ic += mBig)
                {
                    _mcAll = Math.Min(mBig, m - _ic);
                    _panelsA = (_mcAll + mr - 1) / mr;
                    // B is packed once per (jc, pc); A once per row pass.
                    if (_ic == 0) Reset(ref _stateB, _panelsB);
                    Reset(ref _stateA, _panelsA);
                    PlanGrid(threads);
                    long tasks = (long)_mBlocks * _nBlocks;
                    if (threads > 1) CpuParallel.For(tasks, 1, _computeBody);
                    else ComputeRange(0, tasks);
                }
            }
        }
    }

    /// <summary>Cuts the current row pass into an MC×(panels) grid with enough tasks to balance the threads.</summary>
    private void PlanGrid(int threads)
    {
        int mr = _k.Mr;
        int mcTarget = Math.Max(mr, RoundUp(GemmPacked.MC, mr));
        _mBlocks = (_mcAll + mcTarget - 1) / mcTarget;
        // Even out block heights (still whole MR panels) so the last block is not a sliver.
        _mBlock = RoundUp((_mcAll + _mBlocks - 1) / _mBlocks, mr);
        _mBlocks = (_mcAll + _mBlock - 1) / _mBlock;
        _nBlocks = 1;
        if (threads > 1)
        {
            int want = 4 * threads;
            if (_mBlocks < want) _nBlocks = Math.Min(_panelsB, (want + _mBlocks - 1) / _mBlocks);
        }
        _nBlockPanels = (_panelsB + _nBlocks - 1) / _nBlocks;
        _nBlocks = (_panelsB + _nBlockPanels - 1) / _nBlockPanels;
    }

    private static void Reset(ref int[] state, int panels)
    {
        if (state.Length < panels) state = new int[Math.Max(panels, state.Length * 2)];
        else Array.Clear(state, 0, panels);
    }

    /// <summary>Makes sure a panel is packed: claims and packs it, or waits while another thread finishes it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Ensure(int[] state, int panel, bool isA)
    {
        if (Volatile.Read(ref state[panel]) == Ready) return;
        EnsureSlow(state, panel, isA);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void EnsureSlow(int[] state, int panel, bool isA)
    {
        if (Interlocked.CompareExchange(ref state[panel], Packing, Unpacked) == Unpacked)
        {
            if (isA)
            {
                int mr = _k.Mr, i0 = panel * mr;
                GemmPack.PackA(_p.TransA, _p.A, _p.Lda, _ic + i0, Math.Min(mr, _mcAll - i0), _pc, _kc, mr, _packA + (long)panel * _kc * mr);
            }
            else
                GemmPack.PackB(_p.TransB, _p.B, _p.Ldb, _pc, _kc, _jc, _nc, _k.Nr, _packB, panel, panel + 1);
            Volatile.Write(ref state[panel], Ready);
            return;
        }
        // Another thread is packing it right now; packing never waits on anything, so this ends.
        var spin = new SpinWait();
        while (Volatile.Read(ref state[panel]) != Ready) spin.SpinOnce(sleep1Threshold: -1);
    }

    private void ComputeRange(long start, long end)
    {
        for (long t = start; t < end; t++)
        {
            int ib = (int)(t / _nBlocks), jb = (int)(t % _nBlocks);
            ComputeBlock(ib * _mBlock, Math.Min(_mBlock, _mcAll - ib * _mBlock),
                jb * _nBlockPanels, Math.Min(_panelsB, (jb + 1) * _nBlockPanels));
        }
    }

    /// <summary>Rows [i0, i0+mc) of the row pass × B panels [panel0, panel1): B micro-panel stays in L1, A block in L2.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ComputeBlock(int i0, int mc, int panel0, int panel1)
    {
        int mr = _k.Mr, nr = _k.Nr, kc = _kc;
        var body = _k.Body;
        long ldc = _p.Ldc;
        float alpha = _p.Alpha, beta = _betaEff;
        bool transC = _p.TransC;
        float* cBase = transC ? _p.C + (long)_jc * ldc + _ic + i0 : _p.C + (long)(_ic + i0) * ldc + _jc;
        float* aBase = _packA + (long)(i0 / mr) * kc * mr;
        int[] stateA = _stateA, stateB = _stateB;
        int panelA0 = i0 / mr;
        for (int panel = panel0; panel < panel1; panel++)
        {
            Ensure(stateB, panel, isA: false);
            int j = panel * nr;
            int cols = Math.Min(nr, _nc - j);
            float* bp = _packB + (long)panel * kc * nr;
            for (int ir = 0; ir < mc; ir += mr)
            {
                int rows = Math.Min(mr, mc - ir);
                Ensure(stateA, panelA0 + ir / mr, isA: true);
                float* ap = aBase + (long)(ir / mr) * kc * mr;
                if (transC)
                    EdgeTile(kc, ap, bp, cBase + (long)j * ldc + ir, 1, ldc, rows, cols, alpha, beta);
                else if (rows == mr && cols == nr)
                    body(kc, ap, bp, cBase + ir * ldc + j, ldc, alpha, beta);
                else
                    EdgeTile(kc, ap, bp, cBase + ir * ldc + j, ldc, 1, rows, cols, alpha, beta);
            }
        }
    }

    /// <summary>
    /// A partial or transposed tile: the kernel writes the raw sums to scratch, then only the valid part is merged
    /// into C (element (r, j) at cp[r·rowStride + j·colStride]) with the kernel's rounding.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void EdgeTile(int kc, float* ap, float* bp, float* cp, long rowStride, long colStride, int rows, int cols, float alpha, float beta)
    {
        if (colStride != 1)
        {
            EdgeTileStrided(kc, ap, bp, cp, rowStride, colStride, rows, cols, alpha, beta);
            return;
        }
        long ldc = rowStride;
        int nr = _k.Nr;
        float* tile = GemmBuffers.Current.Tile;
        _k.Body(kc, ap, bp, tile, nr, 1f, 0f);
        bool fused = _k.Fused;
        for (int r = 0; r < rows; r++)
        {
            float* src = tile + r * nr;
            float* dst = cp + r * ldc;
            if (beta == 0f)
                for (int j = 0; j < cols; j++) dst[j] = src[j] * alpha;
            else if (beta == 1f && fused)
                for (int j = 0; j < cols; j++) dst[j] = MathF.FusedMultiplyAdd(src[j], alpha, dst[j]);
            else if (fused)
                for (int j = 0; j < cols; j++) dst[j] = MathF.FusedMultiplyAdd(src[j], alpha, dst[j] * beta);
            else
                for (int j = 0; j < cols; j++) dst[j] = src[j] * alpha + dst[j] * beta;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void EdgeTileStrided(int kc, float* ap, float* bp, float* cp, long rowStride, long colStride, int rows, int cols, float alpha, float beta)
    {
        int nr = _k.Nr;
        float* tile = GemmBuffers.Current.Tile;
        _k.Body(kc, ap, bp, tile, nr, 1f, 0f);
        bool fused = _k.Fused;
        // Walk C in its memory order (j outer when C is transposed) so stores stay contiguous.
        for (int j = 0; j < cols; j++)
        {
            float* dst = cp + j * colStride;
            for (int r = 0; r < rows; r++)
            {
                float acc = tile[r * nr + j];
                float* d = dst + r * rowStride;
                *d = beta == 0f ? acc * alpha
                    : beta == 1f && fused ? MathF.FusedMultiplyAdd(acc, alpha, *d)
                    : fused ? MathF.FusedMultiplyAdd(acc, alpha, *d * beta)
                    : acc * alpha + *d * beta;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int RoundUp(int x, int to) => (x + to - 1) / to * to;
}
