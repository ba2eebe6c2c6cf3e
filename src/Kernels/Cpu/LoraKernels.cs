using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Finetune.Kernels.Cpu;

/// <summary>
/// The CPU's fused LoRA kernels (<see cref="ILoraKernels"/>), version 4 of the LoRA path (v1 is the composed ops, v2 the
/// first fused kernels, v3 the register tile below with y and dX updated in separate passes). v4 carries the
/// up-projection in the base GEMM as a second inner segment (<see cref="UpGemm"/>; <see cref="Up"/> is v3's pass) and,
/// without dropout, the dX term too (the backend's one GEMM [g | gu]·[W ; A]); with dropout the dX term needs the mask
/// and is added in the gA pass. Every other product runs on the 6×16 register tile of <see cref="LoraTile"/>: six rows'
/// dropout is drawn into a small buffer (never a [rows, in] tensor), the rank columns of u and gu come out of one tile
/// (rank padded to 8). Reductions over rows (gA, gB) keep a tile of the [rank, n] result in registers over a 64-row slab
/// and sum per-chunk partials in chunk order, with chunks fixed by the problem size, so results repeat bit for bit at
/// any thread count.
/// </summary>
internal static unsafe class LoraKernels
{
    private const int RowBlock = LoraTile.Rows;

    // Row reductions (gA, gB) walk a chunk of rows in slabs of at most this many: a slab's dropped x and mask stay in
    // L2 while every rank tile streams over them.
    private const int Slab = 64;

    /// <summary>One adapter's operands as the CPU kernels see them (A, its dropout, u or gu, gA, keep bits).</summary>
    public readonly struct Part(float* a, int rank, DropoutStream dropout, float* u, float* gradA = null, byte* keepBits = null)
    {
        public readonly float* A = a, U = u, GradA = gradA;
        public readonly int Rank = rank;
        public readonly DropoutStream Dropout = dropout;
        public readonly byte* KeepBits = keepBits;
    }

    public static void Down(float* x, float* a, float* u, int rows, int inF, int rank, DropoutStream dropout, byte* keepBits = null) =>
        Down(x, new[] { new Part(a, rank, dropout, u, null, keepBits) }, rows, inF);

    /// <summary>u_p = drop_p(x)·A_pᵀ for every part in one pass over x: six rows at a time, each part drawing its own dropout.</summary>
    public static void Down(float* x, Part[] parts, int rows, int inF)
    {
        int rpMax = parts.Max(p => Padded(p.Rank)), rankSum = parts.Sum(p => p.Rank);
        var at = new nint[parts.Length];
        try
        {
            for (int p = 0; p < parts.Length; p++)
                at[p] = (nint)TransposedPadded(parts[p].A, parts[p].Rank, inF, Padded(parts[p].Rank), 1f);
            bool anyDropout = parts.Any(p => p.Dropout.Active);
            nint px = (nint)x;
            CpuParallel.For(Blocks(rows), CpuParallel.Grain((long)RowBlock * inF * (rankSum + 4 * parts.Length)), (s, e) =>
            {
                float* scratch = anyDropout ? Alloc((long)RowBlock * inF) : null;
                float* tile = stackalloc float[RowBlock * rpMax];
                try
                {
                    for (long blk = s; blk < e; blk++)
                    {
                        int t0 = (int)blk * RowBlock, nr = Math.Min(RowBlock, rows - t0);
                        for (int p = 0; p < parts.Length; p++)
                        {
                            var part = parts[p];
                            float* xr = (float*)px + (long)t0 * inF;
                            if (part.Dropout.Active)
                            {
                                PhiloxDropout.KeepScales(part.Dropout, (long)t0 * inF, (long)nr * inF, scratch);
                                if (part.KeepBits is not null)
                                    KeepBitMask.Write(scratch, nr, inF, part.KeepBits + t0 * KeepBitMask.RowBytes(inF));
                                xr = Dropped(xr, scratch, scratch, nr * inF);
                            }
                            RankProducts(nr, xr, inF, (float*)at[p], Padded(part.Rank), tile, part.U + (long)t0 * part.Rank, part.Rank, 1f);
                        }
                    }
                }
                finally
                {
                    Free(scratch);
                }
            });
        }
        finally
        {
            foreach (var t in at) Free((float*)t);
        }
    }

    public static void Up(float* u, float* b, float* y, int rows, int outF, int rank, float scale)
    {
        float* bt = Transposed(b, outF, rank, scale);
        try
        {
            nint pu = (nint)u, pbt = (nint)bt, py = (nint)y;
            CpuParallel.For(Blocks(rows), CpuParallel.Grain((long)RowBlock * outF * (rank + 2)), (s, e) =>
            {
                for (long blk = s; blk < e; blk++)
                {
                    int t0 = (int)blk * RowBlock, nr = Math.Min(RowBlock, rows - t0);
                    var add = new LoraTile.Add((float*)py + (long)t0 * outF, outF, null);
                    LoraTile.Run(nr, outF, rank, (float*)pu + (long)t0 * rank, rank, 1, (float*)pbt, outF, ref add);
                }
            });
        }
        finally
        {
            Free(bt);
        }
    }

    /// <summary>
    /// y = x·Wᵀ + beta·y + scale·u·Bᵀ as one GEMM over the concatenated inner dimension, [x | u]·[W | scale·B]ᵀ: the
    /// low-rank product accumulates in the base GEMM's registers, so y is written once (scale goes on a copy of B, the
    /// smallest operand).
    /// </summary>
    public static void UpGemm(float* x, float* w, float* u, float* b, float* y, int rows, int inF, int outF, int rank, float scale,
        float beta)
    {
        float* sb = Padded(b, outF, rank, rank, scale);
        try
        {
            GemmPacked.Sgemm(false, true, rows, outF, inF, 1f, x, inF, w, inF, false, true, rank, u, rank, sb, rank, beta, y, outF);
        }
        finally
        {
            Free(sb);
        }
    }

    public static void UpBackward(float* g, float* u, float* b, float* gu, float* gb, int rows, int outF, int rank, float scale)
    {
        int rp = Padded(rank);
        float* bp = Padded(b, outF, rank, rp, scale);
        bool wantGb = gb is not null;
        var (chunks, rowsPerChunk) = ReductionChunks(rows);
        float* partial = wantGb ? Alloc((long)chunks * rank * outF, zero: true) : null;
        try
        {
            nint pg = (nint)g, pu = (nint)u, pbp = (nint)bp, pgu = (nint)gu, pp = (nint)partial;
            CpuParallel.For(chunks, 1, (s, e) =>
            {
                float* tile = stackalloc float[RowBlock * rp];
                for (long c = s; c < e; c++)
                {
                    int first = (int)(c * rowsPerChunk), end = (int)Math.Min(rows, (c + 1) * rowsPerChunk);
                    for (int t0 = first; t0 < end; t0 += RowBlock)
                        RankProducts(Math.Min(RowBlock, end - t0), (float*)pg + (long)t0 * outF, outF, (float*)pbp, rp, tile,
                            (float*)pgu + (long)t0 * rank, rank, 1f);
                    if (wantGb)
                        ReduceRows(first, end, (float*)pu, rank, (float*)pg, outF, (float*)pp + c * rank * outF, scale);
                }
            });
            if (wantGb) SumPartialsTransposed(partial, chunks, rank, outF, gb);
        }
        finally
        {
            Free(partial);
            Free(bp);
        }
    }

    public static void DownBackward(float* x, float* a, float* gu, float* ga, float* gx, int rows, int inF, int rank, DropoutStream dropout,
        byte* keepBits = null) =>
        DownBackward(x, new[] { new Part(a, rank, dropout, gu, ga, keepBits) }, gx, rows, inF);

    /// <summary>
    /// Every part's gA (when given) and gx += Σ_p mask_p∘(gu_p·A_p) (when gx is given) in one pass over x: a 64-row slab
    /// of x stays in L2 while each part draws (or reads) its mask, reduces its gA partial and adds its dX term.
    /// </summary>
    public static void DownBackward(float* x, Part[] parts, float* gx, int rows, int inF)
    {
        bool wantGx = gx is not null;
        var (chunks, rowsPerChunk) = ReductionChunks(rows);
        var partial = new nint[parts.Length];
        try
        {
            for (int p = 0; p < parts.Length; p++)
                if (parts[p].GradA is not null) partial[p] = (nint)Alloc((long)chunks * parts[p].Rank * inF, zero: true);
            bool anyDropout = parts.Any(p => p.Dropout.Active);
            nint px = (nint)x, pgx = (nint)gx;
            CpuParallel.For(chunks, 1, (s, e) =>
            {
                float* mask = anyDropout ? Alloc((long)Slab * inF) : null;
                float* dropped = anyDropout ? Alloc((long)Slab * inF) : null;
                try
                {
                    for (long c = s; c < e; c++)
                    {
                        int end = (int)Math.Min(rows, (c + 1) * rowsPerChunk);
                        for (int s0 = (int)(c * rowsPerChunk); s0 < end; s0 += Slab)
                        {
                            int ns = Math.Min(Slab, end - s0);
                            long first = (long)s0 * inF;
                            for (int p = 0; p < parts.Length; p++)
                            {
                                var part = parts[p];
                                float* m = part.Dropout.Active ? mask : null;
                                if (m is not null && part.KeepBits is not null)
                                    KeepBitMask.Read(part.KeepBits + s0 * KeepBitMask.RowBytes(inF), ns, inF, part.Dropout.KeepScale, m);
                                else if (m is not null) PhiloxDropout.KeepScales(part.Dropout, first, (long)ns * inF, m);
                                float* gu = part.U + (long)s0 * part.Rank;
                                if (part.GradA is not null)
                                {
                                    float* xr = m is null ? (float*)px + first : Dropped((float*)px + first, dropped, m, ns * inF);
                                    ReduceRows(0, ns, gu, part.Rank, xr, inF, (float*)partial[p] + c * part.Rank * inF, 1f);
                                }
                                if (!wantGx) continue;
                                for (int t = 0; t < ns; t += RowBlock)
                                {
                                    float* mt = m is null ? null : m + (long)t * inF;
                                    var add = new LoraTile.Add((float*)pgx + first + (long)t * inF, inF, mt);
                                    LoraTile.Run(Math.Min(RowBlock, ns - t), inF, part.Rank, gu + (long)t * part.Rank, part.Rank, 1,
                                        part.A, inF, ref add);
                                }
                            }
                        }
                    }
                }
                finally
                {
                    Free(mask);
                    Free(dropped);
                }
            });
            for (int p = 0; p < parts.Length; p++)
                if (parts[p].GradA is not null) SumPartials((float*)partial[p], chunks, (long)parts[p].Rank * inF, parts[p].GradA);
        }
        finally
        {
            foreach (var q in partial) Free((float*)q);
        }
    }

    private static long Blocks(int rows) => (rows + RowBlock - 1) / RowBlock;

    private static int Padded(int rank) => (rank + 7) / 8 * 8;

    /// <summary>At most 16 chunks of whole slabs, fixed by the row count alone.</summary>
    private static (int Chunks, int RowsPerChunk) ReductionChunks(int rows)
    {
        int perChunk = Math.Max(Slab, (rows + 15) / 16);
        perChunk = (perChunk + Slab - 1) / Slab * Slab;
        return (Math.Max(1, (rows + perChunk - 1) / perChunk), perChunk);
    }

    /// <summary>
    /// output[k, j] = scale·Σᵢ rows[k, i]·panel[i, j] for k &lt; nr, j &lt; rank: the tile kernel writes rp (rank rounded up
    /// to 8) columns into <paramref name="tile"/>, of which rank are copied out.
    /// </summary>
    private static void RankProducts(int nr, float* rows, int n, float* panel, int rp, float* tile, float* output, int rank, float scale)
    {
        var store = new LoraTile.Store(tile, rp, scale);
        LoraTile.Run(nr, rp, n, rows, n, 1, panel, rp, ref store);
        for (int k = 0; k < nr; k++)
            new ReadOnlySpan<float>(tile + k * rp, rank).CopyTo(new Span<float>(output + (long)k * rank, rank));
    }

    /// <summary>
    /// acc[j, o] += scale·Σₜ coef[t, j]·rows[t, o] over t in [t0, t1) in slabs (coef rows are rank long, rows n long): the
    /// tile kernel reads coef transposed, six rank indices at a time, with the slab's rows streaming through.
    /// </summary>
    private static void ReduceRows(int t0, int t1, float* coef, int rank, float* rows, int n, float* acc, float scale)
    {
        for (int s0 = t0; s0 < t1; s0 += Slab)
        {
            int ns = Math.Min(Slab, t1 - s0);
            for (int j = 0; j < rank; j += RowBlock)
            {
                var add = new Scaled(acc + (long)j * n, n, scale);
                LoraTile.Run(Math.Min(RowBlock, rank - j), n, ns, coef + (long)s0 * rank + j, 1, rank, rows + (long)s0 * n, n, ref add);
            }
        }
    }

    /// <summary>dst[r, c] += scale·C(r, c).</summary>
    private readonly struct Scaled(float* dst, long ld, float scale) : LoraTile.IEpilogue
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Row16(int row, int col, Vector256<float> v0, Vector256<float> v1)
        {
            float* d = dst + row * ld + col;
            var s = Vector256.Create(scale);
            Vector256.FusedMultiplyAdd(v0, s, Vector256.Load(d)).Store(d);
            Vector256.FusedMultiplyAdd(v1, s, Vector256.Load(d + 8)).Store(d + 8);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Row8(int row, int col, Vector256<float> v)
        {
            float* d = dst + row * ld + col;
            Vector256.FusedMultiplyAdd(v, Vector256.Create(scale), Vector256.Load(d)).Store(d);
        }

        public void One(int row, int col, float v) => dst[row * ld + col] += scale * v;
    }

    /// <summary>x[0..n)·mask into <paramref name="output"/> (which may be the mask itself).</summary>
    private static float* Dropped(float* x, float* output, float* mask, int n)
    {
        int i = 0;
        for (; i + 8 <= n; i += 8) (Vector256.Load(x + i) * Vector256.Load(mask + i)).Store(output + i);
        for (; i < n; i++) output[i] = x[i] * mask[i];
        return output;
    }

    /// <summary>output = Σ_c partial[c] (each <paramref name="n"/> long), in chunk order.</summary>
    private static void SumPartials(float* partial, int chunks, long n, float* output)
    {
        new ReadOnlySpan<float>(partial, (int)n).CopyTo(new Span<float>(output, (int)n));
        for (int c = 1; c < chunks; c++)
        {
            float* p = partial + c * n;
            long i = 0;
            for (; i + 8 <= n; i += 8) (Vector256.Load(output + i) + Vector256.Load(p + i)).Store(output + i);
            for (; i < n; i++) output[i] += p[i];
        }
    }

    /// <summary>output[o, j] = Σ_c partial[c][j, o]: the [rank, n] partials summed in chunk order, written [n, rank].</summary>
    private static void SumPartialsTransposed(float* partial, int chunks, int rank, int n, float* output)
    {
        long size = (long)rank * n;
        SumPartials(partial, chunks, size, partial);
        for (int j = 0; j < rank; j++)
            for (int o = 0; o < n; o++) output[(long)o * rank + j] = partial[(long)j * n + o];
    }

    /// <summary>scale·Bᵀ of a [rows, cols] matrix into a fresh buffer (freed with <see cref="Free"/>).</summary>
    private static float* Transposed(float* b, int rows, int cols, float scale)
    {
        float* t = Alloc((long)rows * cols);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) t[(long)c * rows + r] = scale * b[(long)r * cols + c];
        return t;
    }

    /// <summary>scale·Aᵀ of a [rank, n] matrix as [n, rp], the columns past rank zero.</summary>
    private static float* TransposedPadded(float* a, int rank, int n, int rp, float scale)
    {
        float* t = Alloc((long)n * rp, zero: true);
        for (int j = 0; j < rank; j++)
            for (int i = 0; i < n; i++) t[(long)i * rp + j] = scale * a[(long)j * n + i];
        return t;
    }

    /// <summary>scale·B of a [rows, rank] matrix as [rows, rp], the columns past rank zero.</summary>
    private static float* Padded(float* b, int rows, int rank, int rp, float scale)
    {
        float* t = Alloc((long)rows * rp, zero: true);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < rank; j++) t[(long)r * rp + j] = scale * b[(long)r * rank + j];
        return t;
    }

    private static float* Alloc(long count, bool zero = false)
    {
        var p = (float*)NativeMemory.AlignedAlloc((nuint)Math.Max(1, count) * sizeof(float), 64);
        if (zero) NativeMemory.Clear(p, (nuint)count * sizeof(float));
        return p;
    }

    private static void Free(float* p)
    {
        if (p is not null) NativeMemory.AlignedFree(p);
    }
}
