using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Finetune.Kernels.Cpu;

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
    /// <summary>Widest block of C when an epilogue runs on it, so the finished block still fits in L2 (MC × 256 floats).</summary>
    private const int EpilogueColumns = 256;
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
        if (_p.Epilogue is not null) _nBlockPanels = Math.Min(_nBlockPanels, Math.Max(1, EpilogueColumns / _k.Nr));
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
            Pack(panel, isA);
            Volatile.Write(ref state[panel], Ready);
            return;
        }
        // Another thread is packing it right now; packing never waits on anything, so this ends.
        var spin = new SpinWait();
        while (Volatile.Read(ref state[panel]) != Ready) spin.SpinOnce(sleep1Threshold: -1);
    }

    /// <summary>
    /// Packs depth [pc, pc+kc) of one panel: the part below K1 from the first segment, the rest from the second, one after
    /// the other in the panel (its layout is p-major, so the second part starts first·width floats in).
    /// </summary>
    private void Pack(int panel, bool isA)
    {
        int width = isA ? _k.Mr : _k.Nr, k1 = _p.K1;
        float* dst = (isA ? _packA : _packB) + (long)panel * _kc * width;
        int first = Math.Clamp(k1 - _pc, 0, _kc);
        if (first > 0)
            PackPart(panel, isA, isA ? _p.TransA : _p.TransB, isA ? _p.A : _p.B, isA ? _p.Lda : _p.Ldb, _pc, first, dst);
        if (first < _kc)
        {
            var s = _p.Second;
            PackPart(panel, isA, isA ? s.TransA : s.TransB, isA ? s.A : s.B, isA ? s.Lda : s.Ldb, Math.Max(0, _pc - k1), _kc - first,
                dst + (long)first * width);
        }
    }

    private void PackPart(int panel, bool isA, bool trans, float* src, long ld, int p0, int kc, float* dst)
    {
        if (isA)
        {
            int mr = _k.Mr, i0 = panel * mr;
            GemmPack.PackA(trans, src, ld, _ic + i0, Math.Min(mr, _mcAll - i0), p0, kc, mr, dst);
        }
        else
        {
            int nr = _k.Nr, j0 = panel * nr;
            GemmPack.PackBPanel(trans, src, ld, p0, kc, _jc + j0, Math.Min(nr, _nc - j0), nr, dst);
        }
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
        // After the last k slice the block (at most MC × EpilogueColumns) is still in L2: the epilogue walks it row by row, so
        // the residual streams and the dropout draws long runs, where a micro-tile at a time missed on every residual line.
        if (_p.Epilogue is { } epilogue && _pc + kc == _p.K)
        {
            int j0 = panel0 * nr;
            epilogue.Apply(cBase + j0, ldc, _ic + i0, _jc + j0, mc, Math.Min(panel1 * nr, _nc) - j0);
        }
    }

    /// <summary>
    /// A partial or transposed tile: the kernel writes the raw sums to scratch, then only the valid part is merged
    /// into C (element (r, j) at cp[r·rowStride + j·colStride]) with the kernel's rounding.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void EdgeTile(int kc, float* ap, float* bp, float* cp, long rowStride, long colStride, int rows, int cols,
        float alpha, float beta)
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
    private void EdgeTileStrided(int kc, float* ap, float* bp, float* cp, long rowStride, long colStride, int rows, int cols,
        float alpha, float beta)
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
