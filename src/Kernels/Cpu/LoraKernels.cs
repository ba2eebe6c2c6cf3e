using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Finetune.Kernels.Cpu;

/// <summary>
/// The CPU's fused LoRA kernels (<see cref="ILoraKernels"/>), version 2 of the LoRA path (v1 is the composed ops).
/// Rows go four at a time: their dropout is drawn into a small buffer (never a [rows, in] tensor), each rank row of
/// A or Bᵀ is loaded once per four rows, and the output rows are updated while they sit in L1. Reductions over rows
/// (gA, gB) sum per-chunk partials in chunk order, with chunks fixed by the problem size, so results repeat bit for
/// bit at any thread count.
/// </summary>
internal static unsafe class LoraKernels
{
    private const int RowBlock = 4;

    // Row reductions (gA, gB) take eight rows per pass over their [rank, n] accumulator: it lives in L2, so each pass
    // is traffic, and eight rows halve it.
    private const int AccBlock = 8;

    public static void Down(float* x, float* a, float* u, int rows, int inF, int rank, DropoutStream dropout)
    {
        nint px = (nint)x, pa = (nint)a, pu = (nint)u;
        CpuParallel.For(Blocks(rows), CpuParallel.Grain((long)RowBlock * inF * (rank + 4)), (s, e) =>
        {
            float* scratch = dropout.Active ? Alloc((long)RowBlock * inF) : null;
            try
            {
                for (long blk = s; blk < e; blk++)
                {
                    int t0 = (int)blk * RowBlock, nr = Math.Min(RowBlock, rows - t0);
                    float* xr = Dropped((float*)px + (long)t0 * inF, scratch, null, dropout, (long)t0 * inF, nr * inF);
                    RowDots(nr, xr, inF, (float*)pa, rank, inF, (float*)pu + (long)t0 * rank, 1f);
                }
            }
            finally
            {
                Free(scratch);
            }
        });
    }

    public static void Up(float* u, float* b, float* y, int rows, int outF, int rank, float scale)
    {
        float* bt = Transposed(b, outF, rank);
        try
        {
            nint pu = (nint)u, pbt = (nint)bt, py = (nint)y;
            CpuParallel.For(Blocks(rows), CpuParallel.Grain((long)RowBlock * outF * (rank + 2)), (s, e) =>
            {
                float* coef = stackalloc float[RowBlock * rank];
                for (long blk = s; blk < e; blk++)
                {
                    int t0 = (int)blk * RowBlock, nr = Math.Min(RowBlock, rows - t0);
                    for (int i = 0; i < nr * rank; i++) coef[i] = scale * ((float*)pu)[(long)t0 * rank + i];
                    PanelProduct(nr, coef, rank, (float*)pbt, outF, (float*)py + (long)t0 * outF, outF, null);
                }
            });
        }
        finally
        {
            Free(bt);
        }
    }

    public static void UpBackward(float* g, float* u, float* b, float* gu, float* gb, int rows, int outF, int rank, float scale)
    {
        float* bt = Transposed(b, outF, rank);
        try
        {
            nint pg = (nint)g, pu = (nint)u, pbt = (nint)bt, pgu = (nint)gu;
            bool wantGb = gb is not null;
            var (chunks, rowsPerChunk) = ReductionChunks(rows);
            float* partial = wantGb ? Alloc((long)chunks * rank * outF, zero: true) : null;
            nint pp = (nint)partial;
            try
            {
                CpuParallel.For(chunks, 1, (s, e) =>
                {
                    float* coef = stackalloc float[AccBlock * rank];
                    for (long c = s; c < e; c++)
                    {
                        float* acc = (float*)pp + c * rank * outF;
                        int end = (int)Math.Min(rows, (c + 1) * rowsPerChunk);
                        for (int t0 = (int)(c * rowsPerChunk); t0 < end; t0 += AccBlock)
                        {
                            int nr = Math.Min(AccBlock, end - t0);
                            float* gr = (float*)pg + (long)t0 * outF;
                            for (int k = 0; k < nr; k += RowBlock)
                                RowDots(Math.Min(RowBlock, nr - k), gr + (long)k * outF, outF, (float*)pbt, rank, outF,
                                    (float*)pgu + (long)(t0 + k) * rank, scale);
                            if (!wantGb) continue;
                            for (int i = 0; i < nr * rank; i++) coef[i] = scale * ((float*)pu)[(long)t0 * rank + i];
                            OuterAccumulate(nr, coef, rank, gr, outF, outF, acc);
                        }
                    }
                });
                if (wantGb) SumPartialsTransposed(partial, chunks, rank, outF, gb);
            }
            finally
            {
                Free(partial);
            }
        }
        finally
        {
            Free(bt);
        }
    }

    public static void DownBackward(float* x, float* a, float* gu, float* ga, float* gx, int rows, int inF, int rank, DropoutStream dropout)
    {
        nint px = (nint)x, pa = (nint)a, pgu = (nint)gu, pgx = (nint)gx;
        bool wantGa = ga is not null, wantGx = gx is not null;
        var (chunks, rowsPerChunk) = ReductionChunks(rows);
        float* partial = wantGa ? Alloc((long)chunks * rank * inF, zero: true) : null;
        nint pp = (nint)partial;
        try
        {
            CpuParallel.For(chunks, 1, (s, e) =>
            {
                float* mask = dropout.Active ? Alloc((long)AccBlock * inF) : null;
                float* dropped = dropout.Active && wantGa ? Alloc((long)AccBlock * inF) : null;
                try
                {
                    for (long c = s; c < e; c++)
                    {
                        float* acc = (float*)pp + c * rank * inF;
                        int end = (int)Math.Min(rows, (c + 1) * rowsPerChunk);
                        for (int t0 = (int)(c * rowsPerChunk); t0 < end; t0 += AccBlock)
                        {
                            int nr = Math.Min(AccBlock, end - t0);
                            long first = (long)t0 * inF;
                            if (dropout.Active) PhiloxDropout.KeepScales(dropout, first, (long)nr * inF, mask);
                            float* coef = (float*)pgu + (long)t0 * rank;
                            if (wantGa)
                            {
                                float* xr = Dropped((float*)px + first, dropped, mask, dropout, first, nr * inF);
                                OuterAccumulate(nr, coef, rank, xr, inF, inF, acc);
                            }
                            if (wantGx) PanelProduct(nr, coef, rank, (float*)pa, inF, (float*)pgx + first, inF, mask);
                        }
                    }
                }
                finally
                {
                    Free(mask);
                    Free(dropped);
                }
            });
            if (wantGa) SumPartials(partial, chunks, (long)rank * inF, ga);
        }
        finally
        {
            Free(partial);
        }
    }

    private static long Blocks(int rows) => (rows + RowBlock - 1) / RowBlock;

    /// <summary>At most 16 chunks of whole row blocks, fixed by the row count alone.</summary>
    private static (int Chunks, int RowsPerChunk) ReductionChunks(int rows)
    {
        int perChunk = Math.Max(64, (rows + 15) / 16);
        perChunk = (perChunk + AccBlock - 1) / AccBlock * AccBlock;
        return (Math.Max(1, (rows + perChunk - 1) / perChunk), perChunk);
    }

    /// <summary>
    /// The rows x[0..n) with dropout applied into <paramref name="scratch"/>, or x itself without dropout.
    /// <paramref name="mask"/>, when given, already holds the keep-scales of these elements.
    /// </summary>
    private static float* Dropped(float* x, float* scratch, float* mask, in DropoutStream dropout, long first, int n)
    {
        if (!dropout.Active) return x;
        if (mask is null)
        {
            PhiloxDropout.KeepScales(dropout, first, n, scratch);
            mask = scratch;
        }
        int i = 0;
        for (; i + 8 <= n; i += 8) (Vector256.Load(x + i) * Vector256.Load(mask + i)).Store(scratch + i);
        for (; i < n; i++) scratch[i] = x[i] * mask[i];
        return scratch;
    }

    /// <summary>out[k, j] = scale·Σₒ rows[k, o]·panel[j, o] for k &lt; nr (≤ 4), j &lt; rank; panel rows are n long.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowDots(int nr, float* rows, int ld, float* panel, int rank, int n, float* output, float scale)
    {
        float* r0 = rows, r1 = rows + (nr > 1 ? ld : 0), r2 = rows + (nr > 2 ? 2 * ld : 0), r3 = rows + (nr > 3 ? 3 * ld : 0);
        for (int j = 0; j < rank; j++)
        {
            float* w = panel + (long)j * n;
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            int o = 0;
            for (; o + 8 <= n; o += 8)
            {
                var v = Vector256.Load(w + o);
                a0 = Vector256.FusedMultiplyAdd(Vector256.Load(r0 + o), v, a0);
                a1 = Vector256.FusedMultiplyAdd(Vector256.Load(r1 + o), v, a1);
                a2 = Vector256.FusedMultiplyAdd(Vector256.Load(r2 + o), v, a2);
                a3 = Vector256.FusedMultiplyAdd(Vector256.Load(r3 + o), v, a3);
            }
            float s0 = Vector256.Sum(a0), s1 = Vector256.Sum(a1), s2 = Vector256.Sum(a2), s3 = Vector256.Sum(a3);
            for (; o < n; o++)
            {
                s0 += r0[o] * w[o];
                s1 += r1[o] * w[o];
                s2 += r2[o] * w[o];
                s3 += r3[o] * w[o];
            }
            output[j] = scale * s0;
            if (nr > 1) output[rank + j] = scale * s1;
            if (nr > 2) output[2 * rank + j] = scale * s2;
            if (nr > 3) output[3 * rank + j] = scale * s3;
        }
    }

    /// <summary>
    /// out[k, o] += mask[k, o]·Σⱼ coef[k, j]·panel[j, o] for k &lt; nr (≤ 4) (mask null: 1); panel is rank×n, out and
    /// mask rows are <paramref name="ld"/> apart.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PanelProduct(int nr, float* coef, int rank, float* panel, int n, float* output, int ld, float* mask)
    {
        for (int k = 0; k < nr; k += 2)
        {
            bool two = k + 1 < nr;
            float* c0 = coef + k * rank, c1 = two ? c0 + rank : c0;
            float* y0 = output + (long)k * ld, y1 = two ? y0 + ld : y0;
            float* m0 = mask is null ? null : mask + (long)k * ld;
            float* m1 = mask is null ? null : two ? m0 + ld : m0;
            int o = 0;
            for (; o + 16 <= n; o += 16)
            {
                Vector256<float> a00 = default, a01 = default, a10 = default, a11 = default;
                for (int j = 0; j < rank; j++)
                {
                    float* w = panel + (long)j * n + o;
                    var w0 = Vector256.Load(w);
                    var w1 = Vector256.Load(w + 8);
                    var b0 = Vector256.Create(c0[j]);
                    var b1 = Vector256.Create(c1[j]);
                    a00 = Vector256.FusedMultiplyAdd(b0, w0, a00);
                    a01 = Vector256.FusedMultiplyAdd(b0, w1, a01);
                    a10 = Vector256.FusedMultiplyAdd(b1, w0, a10);
                    a11 = Vector256.FusedMultiplyAdd(b1, w1, a11);
                }
                if (mask is not null)
                {
                    a00 *= Vector256.Load(m0 + o);
                    a01 *= Vector256.Load(m0 + o + 8);
                    a10 *= Vector256.Load(m1 + o);
                    a11 *= Vector256.Load(m1 + o + 8);
                }
                (Vector256.Load(y0 + o) + a00).Store(y0 + o);
                (Vector256.Load(y0 + o + 8) + a01).Store(y0 + o + 8);
                if (!two) continue;
                (Vector256.Load(y1 + o) + a10).Store(y1 + o);
                (Vector256.Load(y1 + o + 8) + a11).Store(y1 + o + 8);
            }
            for (; o < n; o++)
            {
                float s0 = 0, s1 = 0;
                for (int j = 0; j < rank; j++)
                {
                    float w = panel[(long)j * n + o];
                    s0 += c0[j] * w;
                    s1 += c1[j] * w;
                }
                y0[o] += mask is null ? s0 : m0[o] * s0;
                if (two) y1[o] += mask is null ? s1 : m1[o] * s1;
            }
        }
    }

    /// <summary>acc[j, o] += Σₖ coef[k, j]·rows[k, o] for k &lt; nr (≤ 8), j &lt; rank, o &lt; n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OuterAccumulate(int nr, float* coef, int rank, float* rows, int ld, int n, float* acc)
    {
        float* R(int k) => rows + (k < nr ? (long)k * ld : 0);
        float* r0 = R(0), r1 = R(1), r2 = R(2), r3 = R(3), r4 = R(4), r5 = R(5), r6 = R(6), r7 = R(7);
        for (int j = 0; j < rank; j++)
        {
            float C(int k) => k < nr ? coef[k * rank + j] : 0f;
            float k0 = C(0), k1 = C(1), k2 = C(2), k3 = C(3), k4 = C(4), k5 = C(5), k6 = C(6), k7 = C(7);
            Vector256<float> b0 = Vector256.Create(k0), b1 = Vector256.Create(k1), b2 = Vector256.Create(k2), b3 = Vector256.Create(k3);
            Vector256<float> b4 = Vector256.Create(k4), b5 = Vector256.Create(k5), b6 = Vector256.Create(k6), b7 = Vector256.Create(k7);
            float* a = acc + (long)j * n;
            int o = 0;
            for (; o + 8 <= n; o += 8)
            {
                var s = Vector256.Load(a + o);
                s = Vector256.FusedMultiplyAdd(b0, Vector256.Load(r0 + o), s);
                s = Vector256.FusedMultiplyAdd(b1, Vector256.Load(r1 + o), s);
                s = Vector256.FusedMultiplyAdd(b2, Vector256.Load(r2 + o), s);
                s = Vector256.FusedMultiplyAdd(b3, Vector256.Load(r3 + o), s);
                s = Vector256.FusedMultiplyAdd(b4, Vector256.Load(r4 + o), s);
                s = Vector256.FusedMultiplyAdd(b5, Vector256.Load(r5 + o), s);
                s = Vector256.FusedMultiplyAdd(b6, Vector256.Load(r6 + o), s);
                s = Vector256.FusedMultiplyAdd(b7, Vector256.Load(r7 + o), s);
                s.Store(a + o);
            }
            for (; o < n; o++)
                a[o] += k0 * r0[o] + k1 * r1[o] + k2 * r2[o] + k3 * r3[o] + k4 * r4[o] + k5 * r5[o] + k6 * r6[o] + k7 * r7[o];
        }
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

    /// <summary>Bᵀ of a [rows, cols] matrix into a fresh buffer (freed with <see cref="Free"/>).</summary>
    private static float* Transposed(float* b, int rows, int cols)
    {
        float* t = Alloc((long)rows * cols);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) t[(long)c * rows + r] = b[(long)r * cols + c];
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
