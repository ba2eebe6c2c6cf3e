using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Finetune.Kernels.Cpu;

/// <summary>
/// Fused attention on the CPU (<see cref="IAttentionKernels"/>). Forward: one task per (batch, head) — or per group of
/// <see cref="QueryBlock"/>-query blocks when heads are too few for the threads — that packs the head's K and V once;
/// keys go by blocks of <see cref="KeyBlock"/> with an online softmax that rescales the output rows once per block.
/// Backward: one task per (batch, head), which owns that head's dQ, dK and dV, so every sum runs in one fixed order and
/// the bits do not depend on the thread count. All five products (Q·Kᵀ, P·V, dO·Vᵀ, Pᵀ·dO, dSᵀ·Q, dS·K) are one 4×16
/// broadcast-FMA register tile (<see cref="Tile"/>) over packed operands; the scores and probabilities live only in a
/// [QueryBlock, KeyBlock] tile.
/// </summary>
internal static unsafe class AttentionKernels
{
    public const int QueryBlock = 32, KeyBlock = 128;

    /// <summary>
    /// A task's scratch, handed out in 64-byte aligned pieces from this thread's reused block (a fresh allocation per task
    /// cost page faults and cold lines on every head).
    /// </summary>
    private struct Arena(long floats)
    {
        private float* _next = GemmBuffers.Current.Attention(floats + 16 * 16);

        public float* Take(long count)
        {
            float* p = _next;
            _next += (count + 15) & ~15L;
            return p;
        }
    }

    /// <summary>The head dim rounded up to the tile width: the row length of every packed [rows, d] operand.</summary>
    private static int Padded(int d) => (d + 15) & ~15;

    public static void Forward(AttentionShape s, float* q, float* k, float* v, float* mask, float* o, float* stats, DropoutStream drop)
    {
        int qBlocks = (s.QueryLength + QueryBlock - 1) / QueryBlock, kBlocks = (s.KeyLength + KeyBlock - 1) / KeyBlock;
        long heads = (long)s.Batch * s.Heads;
        // A task packs its head's keys and values once for all of its query blocks (per query block, the packing cost as much as
        // the products at head dim 32); a head is cut into groups of query blocks only when there are too few heads for the
        // threads. Each output row is the same sequence of operations whichever task computes it.
        int groups = (int)Math.Clamp((4L * CpuParallel.Threads + heads - 1) / heads, 1, qBlocks);
        int perGroup = (qBlocks + groups - 1) / groups;
        groups = (qBlocks + perGroup - 1) / perGroup;
        nint pq = (nint)q, pk = (nint)k, pv = (nint)v, pm = (nint)mask, po = (nint)o, pl = (nint)stats;
        long cost = 4L * perGroup * QueryBlock * s.KeyLength * s.HeadDim;
        int d = s.HeadDim, dp = Padded(d);
        long keyFloats = (long)kBlocks * d * KeyBlock, valueFloats = (long)kBlocks * KeyBlock * dp;
        CpuParallel.For(heads * groups, CpuParallel.Grain(cost, 1 << 18), (start, end) =>
        {
            var w = new Arena(keyFloats + valueFloats + QueryBlock * KeyBlock + KeyBlock + QueryBlock * (dp + 2L));
            float* kt = w.Take(keyFloats), vp = w.Take(valueFloats), sc = w.Take(QueryBlock * KeyBlock);
            float* keep = w.Take(KeyBlock), acc = w.Take(QueryBlock * dp), m = w.Take(QueryBlock), l = w.Take(QueryBlock);
            long packedHead = -1;
            for (long t = start; t < end; t++)
            {
                long bh = t / groups;
                int b = (int)(bh / s.Heads), h = (int)(bh % s.Heads);
                if (bh != packedHead)
                {
                    for (int jb = 0, j0 = 0; j0 < s.KeyLength; jb++, j0 += KeyBlock)
                    {
                        int nk = Math.Min(KeyBlock, s.KeyLength - j0);
                        PackTransposed((float*)pk + s.Key.At(b, j0, h), s.Key.Row, nk, d, kt + jb * (long)d * KeyBlock);
                        PackRows((float*)pv + s.Value.At(b, j0, h), s.Value.Row, nk, d, vp + jb * (long)KeyBlock * dp);
                    }
                    packedHead = bh;
                }
                int qb0 = (int)(t % groups) * perGroup;
                for (int qb = qb0; qb < Math.Min(qBlocks, qb0 + perGroup); qb++)
                    ForwardBlock(s, b, h, qb * QueryBlock, (float*)pq, kt, vp, (float*)pm, (float*)po, (float*)pl, drop, sc, keep, acc, m,
                        l);
            }
        });
    }

    /// <summary>
    /// Rows [i0, i0 + QueryBlock) of one head against every key block (packed in <paramref name="kt"/> and <paramref name="vp"/>),
    /// with an online softmax that rescales the output rows once per block.
    /// </summary>
    private static void ForwardBlock(in AttentionShape s, int b, int h, int i0, float* q, float* kt, float* vp, float* mask, float* o,
        float* stats, DropoutStream drop, float* sc, float* keep, float* acc, float* m, float* l)
    {
        int d = s.HeadDim, dp = Padded(d), nq = Math.Min(QueryBlock, s.QueryLength - i0);
        float* maskRow = mask == null ? null : mask + (long)b * s.MaskStride;
        new Span<float>(acc, QueryBlock * dp).Clear();
        new Span<float>(m, QueryBlock).Fill(float.NegativeInfinity);
        new Span<float>(l, QueryBlock).Clear();
        for (int jb = 0, j0 = 0; j0 < s.KeyLength; jb++, j0 += KeyBlock)
        {
            int nk = Math.Min(KeyBlock, s.KeyLength - j0);
            Tile(q + s.Query.At(b, i0, h), s.Query.Row, 1, nq, d, kt + jb * (long)d * KeyBlock, KeyBlock, nk, sc, KeyBlock, false);
            for (int i = 0; i < nq; i++)
            {
                float* z = sc + i * KeyBlock;
                float max = ScaleMask(z, maskRow == null ? null : maskRow + j0, nk, s.Scale);
                float mNew = MathF.Max(m[i], max);
                // A row with nothing finite yet keeps shift 0: exp(−∞) = 0 instead of exp(−∞ + ∞) = NaN.
                float shift = float.IsNegativeInfinity(mNew) ? 0f : mNew;
                float alpha = float.IsNegativeInfinity(m[i]) ? 0f : VMath.Exp(m[i] - shift);
                l[i] = l[i] * alpha + ExpShifted(z, nk, shift, 0f);
                m[i] = mNew;
                if (drop.Active)
                {
                    PhiloxDropout.KeepScales(drop, s.DropoutIndex(b, h, i0 + i, j0), nk, keep);
                    ElementwiseLoops.BinaryRow<MulFn>(z, keep, z, nk);
                }
                if (alpha != 1f) ElementwiseRow.Scale(acc + (long)i * dp, d, alpha);
            }
            Tile(sc, KeyBlock, 1, nq, nk, vp + jb * (long)KeyBlock * dp, dp, d, acc, dp, true);
        }
        WriteRows(s, b, h, i0, nq, acc, dp, m, l, o, stats);
    }

    /// <summary>O = acc / l and the row statistics (m, log l); a row with l = 0 attended to nothing: zeros, log l = +∞.</summary>
    private static void WriteRows(in AttentionShape s, int b, int h, int i0, int nq, float* acc, int dp, float* m, float* l, float* o,
        float* stats)
    {
        var outRows = s.Output;
        for (int i = 0; i < nq; i++)
        {
            float* y = o + outRows.At(b, i0 + i, h);
            float* st = stats + 2 * (((long)b * s.Heads + h) * s.QueryLength + i0 + i);
            if (l[i] > 0f)
            {
                ElementwiseRow.Scale(acc + (long)i * dp, y, s.HeadDim, 1f / l[i]);
                st[0] = m[i];
                st[1] = MathF.Log(l[i]);
            }
            else
            {
                new Span<float>(y, s.HeadDim).Clear();
                st[0] = 0f;
                st[1] = float.PositiveInfinity;
            }
        }
    }

    public static void Backward(AttentionShape s, float* q, float* k, float* v, float* mask, float* o, float* stats, float* go,
        float* rowDot, float* dq, float* dk, float* dv, DropoutStream drop)
    {
        nint pq = (nint)q, pk = (nint)k, pv = (nint)v, pm = (nint)mask, po = (nint)o, pl = (nint)stats, pg = (nint)go, pr = (nint)rowDot;
        nint pdq = (nint)dq, pdk = (nint)dk, pdv = (nint)dv;
        long cost = 10L * s.QueryLength * s.KeyLength * s.HeadDim;
        CpuParallel.For((long)s.Batch * s.Heads, CpuParallel.Grain(cost, 1 << 18), (start, end) =>
        {
            for (long t = start; t < end; t++)
                BackwardHead(s, (int)(t / s.Heads), (int)(t % s.Heads), (float*)pq, (float*)pk, (float*)pv, (float*)pm, (float*)po,
                    (float*)pl, (float*)pg, (float*)pr, (float*)pdq, (float*)pdk, (float*)pdv, drop);
        });
    }

    private static void BackwardHead(in AttentionShape s, int b, int h, float* q, float* k, float* v, float* mask, float* o,
        float* stats, float* go, float* rowDot, float* dq, float* dk, float* dv, DropoutStream drop)
    {
        int d = s.HeadDim, dp = Padded(d), tq = s.QueryLength;
        long tqPadded = (tq + QueryBlock - 1) / QueryBlock * QueryBlock;
        var w = new Arena(2L * d * KeyBlock + 3L * KeyBlock * dp + 2L * QueryBlock * KeyBlock + KeyBlock
            + 3 * tqPadded * dp);
        float* kt = w.Take((long)d * KeyBlock), vt = w.Take((long)d * KeyBlock), kp = w.Take((long)KeyBlock * dp);
        float* sc = w.Take(QueryBlock * KeyBlock), gs = w.Take(QueryBlock * KeyBlock), keep = w.Take(KeyBlock);
        // Q and dO are packed once per head, not once per key block.
        float* qAll = w.Take(tqPadded * dp), gAll = w.Take(tqPadded * dp);
        float* dkAcc = w.Take((long)KeyBlock * dp), dvAcc = w.Take((long)KeyBlock * dp), dqAcc = w.Take(tqPadded * dp);
        long head = ((long)b * s.Heads + h) * tq;
        float* dRow = rowDot + head, st = stats + 2 * head;
        var packed = s.Output;
        for (int i = 0; i < tq; i++) dRow[i] = ElementwiseRow.Dot(go + s.GradOutput.At(b, i, h), o + packed.At(b, i, h), d);
        new Span<float>(dqAcc, (int)(tqPadded * dp)).Clear();
        PackRows(q + s.Query.At(b, 0, h), s.Query.Row, tq, d, qAll);
        PackRows(go + s.GradOutput.At(b, 0, h), s.GradOutput.Row, tq, d, gAll);
        float* maskRow = mask == null ? null : mask + (long)b * s.MaskStride;
        for (int j0 = 0; j0 < s.KeyLength; j0 += KeyBlock)
        {
            int nk = Math.Min(KeyBlock, s.KeyLength - j0);
            PackTransposed(k + s.Key.At(b, j0, h), s.Key.Row, nk, d, kt);
            PackTransposed(v + s.Value.At(b, j0, h), s.Value.Row, nk, d, vt);
            PackRows(k + s.Key.At(b, j0, h), s.Key.Row, nk, d, kp);
            new Span<float>(dkAcc, 2 * KeyBlock * dp).Clear();
            for (int i0 = 0; i0 < tq; i0 += QueryBlock)
            {
                int nq = Math.Min(QueryBlock, tq - i0);
                float* qp = qAll + (long)i0 * dp, gp = gAll + (long)i0 * dp;
                Tile(qp, dp, 1, nq, d, kt, KeyBlock, nk, sc, KeyBlock, false);
                Tile(gp, dp, 1, nq, d, vt, KeyBlock, nk, gs, KeyBlock, false);
                for (int i = 0; i < nq; i++)
                {
                    // sc ← P∘Z (the dropped probabilities), gs ← scale·dS = scale·P∘(Z∘dO·Vᵀ − D).
                    float* p = sc + i * KeyBlock, g = gs + i * KeyBlock;
                    ScaleMask(p, maskRow == null ? null : maskRow + j0, nk, s.Scale);
                    ExpShifted(p, nk, st[2 * (i0 + i)], st[2 * (i0 + i) + 1]);
                    if (drop.Active) PhiloxDropout.KeepScales(drop, s.DropoutIndex(b, h, i0 + i, j0), nk, keep);
                    SoftmaxGradRow(p, g, drop.Active ? keep : null, nk, dRow[i0 + i], s.Scale);
                }
                // dV += (P∘Z)ᵀ·dO, dK += dSᵀ·Q (the score tiles read by columns), dQ += dS·K.
                Tile(sc, 1, KeyBlock, nk, nq, gp, dp, d, dvAcc, dp, true);
                Tile(gs, 1, KeyBlock, nk, nq, qp, dp, d, dkAcc, dp, true);
                Tile(gs, KeyBlock, 1, nq, nk, kp, dp, d, dqAcc + (long)i0 * dp, dp, true);
            }
            var keyRows = s.KeyGrad;
            for (int j = 0; j < nk; j++)
            {
                new ReadOnlySpan<float>(dkAcc + (long)j * dp, d).CopyTo(new Span<float>(dk + keyRows.At(b, j0 + j, h), d));
                new ReadOnlySpan<float>(dvAcc + (long)j * dp, d).CopyTo(new Span<float>(dv + keyRows.At(b, j0 + j, h), d));
            }
        }
        for (int i = 0; i < tq; i++) new ReadOnlySpan<float>(dqAcc + (long)i * dp, d).CopyTo(new Span<float>(dq + packed.At(b, i, h), d));
    }

    /// <summary>g ← scale·p∘(z∘g − d) and p ← p∘z, with z the keep-scales (1 without dropout).</summary>
    private static void SoftmaxGradRow(float* p, float* g, float* keep, int n, float d, float scale)
    {
        int j = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> vd = Vector256.Create(d), vs = Vector256.Create(scale), z = Vector256<float>.One;
            for (; j + 8 <= n; j += 8)
            {
                if (keep != null) z = Vector256.Load(keep + j);
                var pj = Vector256.Load(p + j);
                (vs * (pj * (z * Vector256.Load(g + j) - vd))).Store(g + j);
                (pj * z).Store(p + j);
            }
        }
        for (; j < n; j++)
        {
            float z = keep != null ? keep[j] : 1f;
            g[j] = scale * (p[j] * (z * g[j] - d));
            p[j] *= z;
        }
    }

    /// <summary>dst[c·KeyBlock + j] = rows[j·stride + c] for j &lt; n; columns up to the next multiple of 16 are zero.</summary>
    private static void PackTransposed(float* rows, long stride, int n, int d, float* dst)
    {
        int padded = (n + 15) & ~15, j = 0;
        if (Avx.IsSupported && d >= 8)
            for (; j + 8 <= n; j += 8)
            {
                // 8×8 blocks; a ragged head dim ends with an overlapping block (columns written twice with the same values).
                for (int c = 0; c < d; c += 8)
                {
                    int c0 = Math.Min(c, d - 8);
                    GemmPack.Transpose8x8(rows + j * stride + c0, stride, dst + (long)c0 * KeyBlock + j, KeyBlock);
                }
            }
        for (int c = 0; c < d; c++)
        {
            float* line = dst + (long)c * KeyBlock;
            for (int jj = j; jj < n; jj++) line[jj] = rows[jj * stride + c];
            for (int jj = n; jj < padded; jj++) line[jj] = 0f;
        }
    }

    /// <summary>dst[j·Padded(d) + c] = rows[j·stride + c] for j &lt; n; the padding columns are zero.</summary>
    private static void PackRows(float* rows, long stride, int n, int d, float* dst)
    {
        int dp = Padded(d);
        for (int j = 0; j < n; j++)
        {
            new ReadOnlySpan<float>(rows + j * stride, d).CopyTo(new Span<float>(dst + (long)j * dp, d));
            new Span<float>(dst + (long)j * dp + d, dp - d).Clear();
        }
    }

    /// <summary>
    /// out[i·ldo + c] = (or +=) Σ_r a[i·rowStride + r·step]·b[r·ldb + c] for i &lt; m, r &lt; n and c &lt; cols rounded up to 16
    /// (b's columns up to there must be readable and zero past cols): a 4×16 register tile of eight accumulators fed by
    /// broadcasts of a's elements. A row tail repeats the last row, so out needs m rounded up to 4 rows.
    /// </summary>
    private static void Tile(float* a, long rowStride, long step, int m, int n, float* b, long ldb, int cols, float* output, long ldo,
        bool accumulate)
    {
        int padded = (cols + 15) & ~15;
        if (!Vector256.IsHardwareAccelerated)
        {
            for (int i = 0; i < m; i++)
                for (int c = 0; c < padded; c++)
                {
                    float sum = accumulate ? output[i * ldo + c] : 0f;
                    for (int r = 0; r < n; r++) sum += a[i * rowStride + r * step] * b[r * ldb + c];
                    output[i * ldo + c] = sum;
                }
            return;
        }
        for (int i = 0; i < m; i += 4)
        {
            float* r0 = a + i * rowStride, r1 = a + Math.Min(i + 1, m - 1) * rowStride;
            float* r2 = a + Math.Min(i + 2, m - 1) * rowStride, r3 = a + Math.Min(i + 3, m - 1) * rowStride;
            for (int c = 0; c < padded; c += 16)
            {
                float* y = output + i * ldo + c;
                Vector256<float> a0 = default, a1 = default, b0 = default, b1 = default;
                Vector256<float> c0 = default, c1 = default, e0 = default, e1 = default;
                if (accumulate)
                {
                    (a0, a1) = (Vector256.Load(y), Vector256.Load(y + 8));
                    (b0, b1) = (Vector256.Load(y + ldo), Vector256.Load(y + ldo + 8));
                    (c0, c1) = (Vector256.Load(y + 2 * ldo), Vector256.Load(y + 2 * ldo + 8));
                    (e0, e1) = (Vector256.Load(y + 3 * ldo), Vector256.Load(y + 3 * ldo + 8));
                }
                float* col = b + c;
                for (long r = 0, e = 0; r < n; r++, e += step, col += ldb)
                {
                    var k0 = Vector256.Load(col);
                    var k1 = Vector256.Load(col + 8);
                    var x = Vector256.Create(r0[e]);
                    a0 = Vector256.FusedMultiplyAdd(x, k0, a0);
                    a1 = Vector256.FusedMultiplyAdd(x, k1, a1);
                    x = Vector256.Create(r1[e]);
                    b0 = Vector256.FusedMultiplyAdd(x, k0, b0);
                    b1 = Vector256.FusedMultiplyAdd(x, k1, b1);
                    x = Vector256.Create(r2[e]);
                    c0 = Vector256.FusedMultiplyAdd(x, k0, c0);
                    c1 = Vector256.FusedMultiplyAdd(x, k1, c1);
                    x = Vector256.Create(r3[e]);
                    e0 = Vector256.FusedMultiplyAdd(x, k0, e0);
                    e1 = Vector256.FusedMultiplyAdd(x, k1, e1);
                }
                a0.Store(y);
                a1.Store(y + 8);
                b0.Store(y + ldo);
                b1.Store(y + ldo + 8);
                c0.Store(y + 2 * ldo);
                c1.Store(y + 2 * ldo + 8);
                e0.Store(y + 3 * ldo);
                e1.Store(y + 3 * ldo + 8);
            }
        }
    }

    /// <summary>z = scale·z + mask (fused multiply-add, as the composed softmax) and the max of z.</summary>
    private static float ScaleMask(float* z, float* mask, int n, float scale) => ElementwiseRow.ScaleAddMax(z, mask, z, n, scale);

    /// <summary>z = exp((z − shift) − logSum) and Σ z: the shift first, as both are near −1e9 in a padded row.</summary>
    private static float ExpShifted(float* z, int n, float shift, float logSum)
    {
        int j = 0;
        float sum = 0f;
        if (Vector256.IsHardwareAccelerated)
        {
            var acc = Vector256<float>.Zero;
            var vs = Vector256.Create(shift);
            var vl = Vector256.Create(logSum);
            for (; j + 8 <= n; j += 8)
            {
                var e = VMath.Exp(Vector256.Load(z + j) - vs - vl);
                e.Store(z + j);
                acc += e;
            }
            sum = Vector256.Sum(acc);
        }
        for (; j < n; j++)
        {
            z[j] = VMath.Exp(z[j] - shift - logSum);
            sum += z[j];
        }
        return sum;
    }
}
