using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Finetune.Kernels.Cpu;

/// <summary>
/// Fused attention on the CPU (<see cref="IAttentionKernels"/>). Forward: one task per (batch, head, block of
/// <see cref="QueryBlock"/> queries); keys go by blocks of <see cref="KeyBlock"/>, packed transposed so a 4×16 register
/// tile of scores comes from broadcast-FMA, and an online softmax rescales the output rows once per key block. Backward:
/// one task per (batch, head), which owns that head's dQ, dK and dV, so every sum runs in one fixed order and the bits
/// do not depend on the thread count. The scores and probabilities live only in a [QueryBlock, KeyBlock] tile.
/// </summary>
internal static unsafe class AttentionKernels
{
    public const int QueryBlock = 32, KeyBlock = 64;

    // A task's tiles: packed Kᵀ and Vᵀ [d, KeyBlock], two score tiles, dropout keep-scales, and `rows` floats of
    // accumulators (forward: output rows, max and sum per query; backward: dK and dV of a key block).
    private readonly struct Scratch : IDisposable
    {
        public readonly float* Kt, Vt, S, T, Keep, Rows;

        public Scratch(int d, long rows)
        {
            long n = 2L * d * KeyBlock + 2L * QueryBlock * KeyBlock + KeyBlock + rows;
            Kt = (float*)NativeMemory.AlignedAlloc((nuint)(n * sizeof(float)), 64);
            Vt = Kt + (long)d * KeyBlock;
            S = Vt + (long)d * KeyBlock;
            T = S + QueryBlock * KeyBlock;
            Keep = T + QueryBlock * KeyBlock;
            Rows = Keep + KeyBlock;
        }

        public void Dispose() => NativeMemory.AlignedFree(Kt);
    }

    public static void Forward(AttentionShape s, float* q, float* k, float* v, float* mask, float* o, float* stats, DropoutStream drop)
    {
        int qBlocks = (s.QueryLength + QueryBlock - 1) / QueryBlock;
        long tasks = (long)s.Batch * s.Heads * qBlocks;
        nint pq = (nint)q, pk = (nint)k, pv = (nint)v, pm = (nint)mask, po = (nint)o, pl = (nint)stats;
        long cost = 4L * QueryBlock * s.KeyLength * s.HeadDim;
        CpuParallel.For(tasks, CpuParallel.Grain(cost, 1 << 18), (start, end) =>
        {
            using var w = new Scratch(s.HeadDim, QueryBlock * (s.HeadDim + 2L));
            for (long t = start; t < end; t++)
            {
                long bh = t / qBlocks;
                int b = (int)(bh / s.Heads), h = (int)(bh % s.Heads), i0 = (int)(t % qBlocks) * QueryBlock;
                ForwardBlock(s, b, h, i0, Math.Min(QueryBlock, s.QueryLength - i0), (float*)pq, (float*)pk, (float*)pv, (float*)pm,
                    (float*)po, (float*)pl, drop, w);
            }
        });
    }

    private static void ForwardBlock(in AttentionShape s, int b, int h, int i0, int nq, float* q, float* k, float* v, float* mask,
        float* o, float* stats, DropoutStream drop, in Scratch w)
    {
        int d = s.HeadDim;
        float* acc = w.Rows, m = acc + (long)QueryBlock * d, l = m + QueryBlock;
        new Span<float>(acc, QueryBlock * d).Clear();
        new Span<float>(m, QueryBlock).Fill(float.NegativeInfinity);
        new Span<float>(l, QueryBlock).Clear();
        float* qRows = q + s.Query.At(b, i0, h);
        float* maskRow = mask == null ? null : mask + (long)b * s.MaskStride;
        for (int j0 = 0; j0 < s.KeyLength; j0 += KeyBlock)
        {
            int nk = Math.Min(KeyBlock, s.KeyLength - j0);
            PackTransposed(k + s.Key.At(b, j0, h), s.Key.Row, nk, d, w.Kt);
            Products(qRows, s.Query.Row, nq, w.Kt, d, nk, w.S);
            for (int i = 0; i < nq; i++)
            {
                float* z = w.S + i * KeyBlock;
                float max = ScaleMask(z, maskRow == null ? null : maskRow + j0, nk, s.Scale);
                float mNew = MathF.Max(m[i], max);
                // A row with nothing finite yet keeps shift 0: exp(−∞) = 0 instead of exp(−∞ + ∞) = NaN.
                float shift = float.IsNegativeInfinity(mNew) ? 0f : mNew;
                float alpha = float.IsNegativeInfinity(m[i]) ? 0f : MathF.Exp(m[i] - shift);
                l[i] = l[i] * alpha + ExpShifted(z, nk, shift, 0f);
                m[i] = mNew;
                if (drop.Active)
                {
                    PhiloxDropout.KeepScales(drop, s.DropoutIndex(b, h, i0 + i, j0), nk, w.Keep);
                    Multiply(z, w.Keep, nk);
                }
                float* a = acc + (long)i * d;
                if (alpha != 1f) Scale(a, d, alpha);
                for (int j = 0; j < nk; j++)
                    if (z[j] != 0f) Axpy(z[j], v + s.Value.At(b, j0 + j, h), a, d);
            }
        }
        var outRows = s.Output;
        for (int i = 0; i < nq; i++)
        {
            float* y = o + outRows.At(b, i0 + i, h);
            float li = l[i];
            float* st = stats + 2 * (((long)b * s.Heads + h) * s.QueryLength + i0 + i);
            if (li > 0f)
            {
                Copy(acc + (long)i * d, y, d, 1f / li);
                st[0] = m[i];
                st[1] = MathF.Log(li);
            }
            else
            {
                // Nothing to attend to: P = exp(z − 0 − ∞) = 0 in backward.
                new Span<float>(y, d).Clear();
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
            using var w = new Scratch(s.HeadDim, 2L * KeyBlock * s.HeadDim);
            for (long t = start; t < end; t++)
                BackwardHead(s, (int)(t / s.Heads), (int)(t % s.Heads), (float*)pq, (float*)pk, (float*)pv, (float*)pm, (float*)po,
                    (float*)pl, (float*)pg, (float*)pr, (float*)pdq, (float*)pdk, (float*)pdv, drop, w);
        });
    }

    private static void BackwardHead(in AttentionShape s, int b, int h, float* q, float* k, float* v, float* mask, float* o,
        float* stats, float* go, float* rowDot, float* dq, float* dk, float* dv, DropoutStream drop, in Scratch w)
    {
        int d = s.HeadDim, tq = s.QueryLength;
        long head = ((long)b * s.Heads + h) * tq;
        float* dRow = rowDot + head, st = stats + 2 * head;
        var packed = s.Output;
        for (int i = 0; i < tq; i++)
        {
            dRow[i] = Dot(go + s.GradOutput.At(b, i, h), o + packed.At(b, i, h), d);
            new Span<float>(dq + packed.At(b, i, h), d).Clear();
        }
        float* maskRow = mask == null ? null : mask + (long)b * s.MaskStride;
        float* dkAcc = w.Rows, dvAcc = dkAcc + (long)KeyBlock * d;
        var keyRows = s.KeyGrad;
        for (int j0 = 0; j0 < s.KeyLength; j0 += KeyBlock)
        {
            int nk = Math.Min(KeyBlock, s.KeyLength - j0);
            PackTransposed(k + s.Key.At(b, j0, h), s.Key.Row, nk, d, w.Kt);
            PackTransposed(v + s.Value.At(b, j0, h), s.Value.Row, nk, d, w.Vt);
            new Span<float>(dkAcc, 2 * KeyBlock * d).Clear();
            for (int i0 = 0; i0 < tq; i0 += QueryBlock)
            {
                int nq = Math.Min(QueryBlock, tq - i0);
                Products(q + s.Query.At(b, i0, h), s.Query.Row, nq, w.Kt, d, nk, w.S);
                Products(go + s.GradOutput.At(b, i0, h), s.GradOutput.Row, nq, w.Vt, d, nk, w.T);
                for (int i = 0; i < nq; i++)
                {
                    // S ← P∘Z (the dropped probabilities), T ← scale·dS = scale·P∘(Z∘dO·Vᵀ − D).
                    float* p = w.S + i * KeyBlock, g = w.T + i * KeyBlock;
                    ScaleMask(p, maskRow == null ? null : maskRow + j0, nk, s.Scale);
                    ExpShifted(p, nk, st[2 * (i0 + i)], st[2 * (i0 + i) + 1]);
                    if (drop.Active) PhiloxDropout.KeepScales(drop, s.DropoutIndex(b, h, i0 + i, j0), nk, w.Keep);
                    float di = dRow[i0 + i];
                    for (int j = 0; j < nk; j++)
                    {
                        float keep = drop.Active ? w.Keep[j] : 1f;
                        g[j] = s.Scale * (p[j] * (keep * g[j] - di));
                        p[j] *= keep;
                    }
                    float* qi = q + s.Query.At(b, i0 + i, h), goi = go + s.GradOutput.At(b, i0 + i, h);
                    float* dqi = dq + packed.At(b, i0 + i, h);
                    for (int j = 0; j < nk; j++)
                    {
                        if (p[j] != 0f) Axpy(p[j], goi, dvAcc + (long)j * d, d);
                        if (g[j] != 0f)
                        {
                            Axpy(g[j], qi, dkAcc + (long)j * d, d);
                            Axpy(g[j], k + s.Key.At(b, j0 + j, h), dqi, d);
                        }
                    }
                }
            }
            for (int j = 0; j < nk; j++)
            {
                Copy(dkAcc + (long)j * d, dk + keyRows.At(b, j0 + j, h), d, 1f);
                Copy(dvAcc + (long)j * d, dv + keyRows.At(b, j0 + j, h), d, 1f);
            }
        }
    }

    /// <summary>dst[c·KeyBlock + j] = rows[j·stride + c] for j &lt; n; columns up to the next multiple of 16 are zero.</summary>
    private static void PackTransposed(float* rows, long stride, int n, int d, float* dst)
    {
        int padded = (n + 15) & ~15;
        for (int c = 0; c < d; c++)
        {
            float* line = dst + (long)c * KeyBlock;
            for (int j = 0; j < n; j++) line[j] = rows[j * stride + c];
            for (int j = n; j < padded; j++) line[j] = 0f;
        }
    }

    /// <summary>
    /// out[i·KeyBlock + j] = Σ_c rows[i·stride + c]·packed[c·KeyBlock + j] for i &lt; n, j &lt; cols rounded up to 16: a 4×16
    /// register tile (8 accumulators) fed by broadcasts of the row elements. Row tails repeat the last row.
    /// </summary>
    private static void Products(float* rows, long stride, int n, float* packed, int d, int cols, float* output)
    {
        int padded = (cols + 15) & ~15;
        if (!Vector256.IsHardwareAccelerated)
        {
            for (int i = 0; i < n; i++)
                for (int j = 0; j < padded; j++)
                {
                    float sum = 0f;
                    for (int c = 0; c < d; c++) sum += rows[i * stride + c] * packed[(long)c * KeyBlock + j];
                    output[i * KeyBlock + j] = sum;
                }
            return;
        }
        for (int i = 0; i < n; i += 4)
        {
            float* r0 = rows + i * stride, r1 = rows + Math.Min(i + 1, n - 1) * stride;
            float* r2 = rows + Math.Min(i + 2, n - 1) * stride, r3 = rows + Math.Min(i + 3, n - 1) * stride;
            for (int j = 0; j < padded; j += 16)
            {
                Vector256<float> a0 = default, a1 = default, b0 = default, b1 = default;
                Vector256<float> c0 = default, c1 = default, e0 = default, e1 = default;
                float* col = packed + j;
                for (int c = 0; c < d; c++, col += KeyBlock)
                {
                    var k0 = Vector256.Load(col);
                    var k1 = Vector256.Load(col + 8);
                    var x = Vector256.Create(r0[c]);
                    a0 = Vector256.FusedMultiplyAdd(x, k0, a0);
                    a1 = Vector256.FusedMultiplyAdd(x, k1, a1);
                    x = Vector256.Create(r1[c]);
                    b0 = Vector256.FusedMultiplyAdd(x, k0, b0);
                    b1 = Vector256.FusedMultiplyAdd(x, k1, b1);
                    x = Vector256.Create(r2[c]);
                    c0 = Vector256.FusedMultiplyAdd(x, k0, c0);
                    c1 = Vector256.FusedMultiplyAdd(x, k1, c1);
                    x = Vector256.Create(r3[c]);
                    e0 = Vector256.FusedMultiplyAdd(x, k0, e0);
                    e1 = Vector256.FusedMultiplyAdd(x, k1, e1);
                }
                // The output tile has QueryBlock ≥ i + 4 rows, so the repeated tail rows land in unused rows.
                float* y = output + i * KeyBlock + j;
                a0.Store(y);
                a1.Store(y + 8);
                b0.Store(y + KeyBlock);
                b1.Store(y + KeyBlock + 8);
                c0.Store(y + 2 * KeyBlock);
                c1.Store(y + 2 * KeyBlock + 8);
                e0.Store(y + 3 * KeyBlock);
                e1.Store(y + 3 * KeyBlock + 8);
            }
        }
    }

    /// <summary>z = scale·z + mask (fused multiply-add, as the composed softmax) and the max of z.</summary>
    private static float ScaleMask(float* z, float* mask, int n, float scale)
    {
        float max = float.NegativeInfinity;
        for (int j = 0; j < n; j++)
        {
            z[j] = mask == null ? scale * z[j] : MathF.FusedMultiplyAdd(z[j], scale, mask[j]);
            max = MathF.Max(max, z[j]);
        }
        return max;
    }

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
                var e = Vector256.Exp(Vector256.Load(z + j) - vs - vl);
                e.Store(z + j);
                acc += e;
            }
            sum = Vector256.Sum(acc);
        }
        for (; j < n; j++)
        {
            z[j] = MathF.Exp(z[j] - shift - logSum);
            sum += z[j];
        }
        return sum;
    }

    private static void Multiply(float* z, float* keep, int n)
    {
        for (int j = 0; j < n; j++) z[j] *= keep[j];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Axpy(float a, float* x, float* y, int n)
    {
        int c = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(a);
            for (; c + 8 <= n; c += 8) Vector256.FusedMultiplyAdd(va, Vector256.Load(x + c), Vector256.Load(y + c)).Store(y + c);
        }
        for (; c < n; c++) y[c] = MathF.FusedMultiplyAdd(a, x[c], y[c]);
    }

    private static void Scale(float* y, int n, float a)
    {
        for (int c = 0; c < n; c++) y[c] *= a;
    }

    private static void Copy(float* x, float* y, int n, float a)
    {
        for (int c = 0; c < n; c++) y[c] = x[c] * a;
    }

    private static float Dot(float* a, float* b, int n)
    {
        float sum = 0f;
        for (int c = 0; c < n; c++) sum += a[c] * b[c];
        return sum;
    }
}
