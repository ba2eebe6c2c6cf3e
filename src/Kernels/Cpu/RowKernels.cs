using System.Runtime.Intrinsics;

namespace Finetune.Kernels.Cpu;

/// <summary>Reductions and the row-wise kernels (softmax, layer norm) of the CPU backend.</summary>
internal static unsafe class RowKernels
{
    private const long Grain = 1 << 15;

    /// <summary>Sum of a contiguous run, 4×8 accumulators in a fixed order.</summary>
    public static float Sum(float* x, long n)
    {
        long i = 0;
        float total = 0f;
        if (Vector256.IsHardwareAccelerated && n >= 32)
        {
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
            for (; i + 32 <= n; i += 32)
            {
                s0 += Vector256.Load(x + i);
                s1 += Vector256.Load(x + i + 8);
                s2 += Vector256.Load(x + i + 16);
                s3 += Vector256.Load(x + i + 24);
            }
            total = Vector256.Sum((s0 + s1) + (s2 + s3));
        }
        for (; i < n; i++) total += x[i];
        return total;
    }

    public static float Max(float* x, long n)
    {
        long i = 0;
        float m = float.NegativeInfinity;
        if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            var vm = Vector256.Create(float.NegativeInfinity);
            for (; i + 8 <= n; i += 8) vm = Vector256.Max(vm, Vector256.Load(x + i));
            for (int l = 0; l < 8; l++) m = MathF.Max(m, vm.GetElement(l));
        }
        for (; i < n; i++) m = MathF.Max(m, x[i]);
        return m;
    }

    public static void Reduce(ReduceOp op, float* x, float* y, int outer, int extent, int inner)
    {
        nint px = (nint)x, py = (nint)y;
        if (inner == 1 && outer == 1 && op == ReduceOp.Sum && extent > Grain)
        {
            // One long sum: partial sums over fixed chunks, combined in chunk order.
            long chunks = CpuParallel.ChunkCount(extent, Grain);
            var partial = new float[chunks];
            CpuParallel.For(extent, Grain, (s, e) => partial[s / Grain] = Sum((float*)px + s, e - s));
            float total = 0f;
            foreach (float p in partial) total += p;
            *y = total;
            return;
        }
        if (inner == 1)
        {
            CpuParallel.For(outer, CpuParallel.Grain(extent, Grain), (s, e) =>
            {
                for (long o = s; o < e; o++)
                {
                    float* row = (float*)px + o * extent;
                    ((float*)py)[o] = op == ReduceOp.Sum ? Sum(row, extent) : Max(row, extent);
                }
            });
            return;
        }
        // Reduce over a middle dim: accumulate whole inner rows (vectorised), split over outer × inner blocks.
        const int Block = 256;
        long innerBlocks = (inner + Block - 1) / Block;
        CpuParallel.For(outer * innerBlocks, CpuParallel.Grain((long)extent * Math.Min(inner, Block), Grain), (s, e) =>
        {
            for (long t = s; t < e; t++)
            {
                long o = t / innerBlocks;
                int j0 = (int)(t % innerBlocks) * Block, j1 = Math.Min(inner, j0 + Block);
                float* dst = (float*)py + o * inner;
                float* src = (float*)px + o * (long)extent * inner;
                for (int j = j0; j < j1; j++) dst[j] = op == ReduceOp.Sum ? 0f : float.NegativeInfinity;
                for (int k = 0; k < extent; k++)
                {
                    float* row = src + (long)k * inner;
                    int j = j0;
                    if (Vector256.IsHardwareAccelerated)
                        for (; j + 8 <= j1; j += 8)
                        {
                            var acc = Vector256.Load(dst + j);
                            var v = Vector256.Load(row + j);
                            Vector256.Store(op == ReduceOp.Sum ? acc + v : Vector256.Max(acc, v), dst + j);
                        }
                    for (; j < j1; j++) dst[j] = op == ReduceOp.Sum ? dst[j] + row[j] : MathF.Max(dst[j], row[j]);
                }
            }
        });
    }

    /// <summary>Softmax of scale·x + mask per row; row r adds mask row (r / maskDivisor) % maskRows (mask may be null).</summary>
    public static void Softmax(bool log, float* x, float* y, int rows, int cols, float scale, float* mask, int maskRows, long maskDivisor)
    {
        nint px = (nint)x, py = (nint)y, pm = (nint)mask;
        bool affine = scale != 1f || mask != null;
        CpuParallel.For(rows, CpuParallel.Grain(cols * (affine ? 5 : 4), Grain), (s, e) =>
        {
            for (long r = s; r < e; r++)
            {
                float* xr = (float*)px + r * cols, yr = (float*)py + r * cols;
                float max;
                if (affine)
                {
                    max = ElementwiseRow.ScaleAddMax(xr, pm == 0 ? null : (float*)pm + r / maskDivisor % maskRows * cols, yr, cols, scale);
                    xr = yr;                                           // z = scale·x + mask, in y
                }
                else max = Max(xr, cols);
                if (log)
                {
                    ElementwiseRow.Exp(xr, null, cols, -max, out float sumExp);       // Σ exp(z - max), not stored
                    ElementwiseRow.AddScalar(xr, yr, cols, -max - MathF.Log(sumExp));
                }
                else
                {
                    ElementwiseRow.Exp(xr, yr, cols, -max, out float sum);            // y = exp(z - max)
                    ElementwiseRow.Scale(yr, cols, 1f / sum);
                }
            }
        });
    }

    /// <summary>The gradient with respect to x of softmax(scale·x + mask): scale times the usual one.</summary>
    public static void SoftmaxBackward(bool log, float* y, float* gy, float* gx, int rows, int cols, float scale)
    {
        nint py = (nint)y, pgy = (nint)gy, pgx = (nint)gx;
        CpuParallel.For(rows, CpuParallel.Grain(cols * 3, Grain), (s, e) =>
        {
            for (long r = s; r < e; r++)
            {
                float* yr = (float*)py + r * cols, gyr = (float*)pgy + r * cols, gxr = (float*)pgx + r * cols;
                if (log)
                {
                    // gx = scale · (gy - softmax · Σgy), softmax = exp(y)
                    float sum = Sum(gyr, cols);
                    for (int j = 0; j < cols; j++) gxr[j] = scale * (gyr[j] - VMath.Exp(yr[j]) * sum);
                }
                else
                {
                    // gx = scale · y · (gy - Σ y·gy)
                    float dot = ElementwiseRow.Dot(yr, gyr, cols);
                    for (int j = 0; j < cols; j++) gxr[j] = scale * yr[j] * (gyr[j] - dot);
                }
            }
        });
    }

    public static void LayerNorm(float* x, float* w, float* b, float* y, float* mean, float* rstd, int rows, int cols, float eps)
    {
        nint px = (nint)x, pw = (nint)w, pb = (nint)b, py = (nint)y, pm = (nint)mean, pr = (nint)rstd;
        CpuParallel.For(rows, CpuParallel.Grain(cols * 3, Grain), (s, e) =>
        {
            for (long r = s; r < e; r++)
            {
                float* xr = (float*)px + r * cols, yr = (float*)py + r * cols;
                float mu = Sum(xr, cols) / cols;
                float var = ElementwiseRow.SumSquaredDiff(xr, cols, mu) / cols;
                float rs = 1f / MathF.Sqrt(var + eps);
                ((float*)pm)[r] = mu;
                ((float*)pr)[r] = rs;
                float* ws = (float*)pw, bs = (float*)pb;
                int j = 0;
                if (Vector256.IsHardwareAccelerated)
                {
                    var vmu = Vector256.Create(mu);
                    var vrs = Vector256.Create(rs);
                    for (; j + 8 <= cols; j += 8)
                        Vector256.Store(Vector256.FusedMultiplyAdd((Vector256.Load(xr + j) - vmu) * vrs, Vector256.Load(ws + j),
                            Vector256.Load(bs + j)), yr + j);
                }
                for (; j < cols; j++) yr[j] = (xr[j] - mu) * rs * ws[j] + bs[j];
            }
        });
    }

    public static void LayerNormBackward(float* x, float* w, float* mean, float* rstd, float* gy, float* gx, float* gw, float* gb,
        int rows, int cols)
    {
        nint px = (nint)x, pw = (nint)w, pm = (nint)mean, pr = (nint)rstd, pgy = (nint)gy, pgx = (nint)gx, pgw = (nint)gw, pgb = (nint)gb;
        // gx: rows are independent. xhat = (x-μ)·r; g = gy·w; gx = r·(g - mean(g) - xhat·mean(g·xhat))
        CpuParallel.For(rows, CpuParallel.Grain(cols * 6, Grain), (s, e) =>
        {
            for (long r = s; r < e; r++)
            {
                float* xr = (float*)px + r * cols, gyr = (float*)pgy + r * cols, gxr = (float*)pgx + r * cols;
                float* ws = (float*)pw;
                float mu = ((float*)pm)[r], rs = ((float*)pr)[r];
                float sumG = 0f, sumGx = 0f;
                int j = 0;
                if (Vector256.IsHardwareAccelerated)
                {
                    Vector256<float> vg = default, vgx = default, vmu = Vector256.Create(mu), vrs = Vector256.Create(rs);
                    for (; j + 8 <= cols; j += 8)
                    {
                        var g = Vector256.Load(gyr + j) * Vector256.Load(ws + j);
                        vg += g;
                        vgx += g * (Vector256.Load(xr + j) - vmu) * vrs;
                    }
                    sumG = Vector256.Sum(vg);
                    sumGx = Vector256.Sum(vgx);
                }
                for (; j < cols; j++)
                {
                    float g = gyr[j] * ws[j];
                    sumG += g;
                    sumGx += g * (xr[j] - mu) * rs;
                }
                float meanG = sumG / cols, meanGx = sumGx / cols;
                j = 0;
                if (Vector256.IsHardwareAccelerated)
                {
                    Vector256<float> vmu = Vector256.Create(mu), vrs = Vector256.Create(rs);
                    Vector256<float> vmg = Vector256.Create(meanG), vmgx = Vector256.Create(meanGx);
                    for (; j + 8 <= cols; j += 8)
                    {
                        var xhat = (Vector256.Load(xr + j) - vmu) * vrs;
                        (vrs * (Vector256.Load(gyr + j) * Vector256.Load(ws + j) - vmg - xhat * vmgx)).Store(gxr + j);
                    }
                }
                for (; j < cols; j++)
                {
                    float xhat = (xr[j] - mu) * rs;
                    gxr[j] = rs * (gyr[j] * ws[j] - meanG - xhat * meanGx);
                }
            }
        });
        // gw, gb: columns are independent; each column block walks every row in order.
        const int Block = 64;
        long blocks = (cols + Block - 1) / Block;
        CpuParallel.For(blocks, 1, (s, e) =>
        {
            for (long blk = s; blk < e; blk++)
            {
                int j0 = (int)blk * Block, j1 = Math.Min(cols, j0 + Block);
                float* gws = (float*)pgw, gbs = (float*)pgb;
                for (long r = 0; r < rows; r++)
                {
                    float* xr = (float*)px + r * cols, gyr = (float*)pgy + r * cols;
                    float mu = ((float*)pm)[r], rs = ((float*)pr)[r];
                    int j = j0;
                    if (Vector256.IsHardwareAccelerated)
                    {
                        // The same operations as the scalar tail, so a column's bits do not depend on where it falls.
                        Vector256<float> vmu = Vector256.Create(mu), vrs = Vector256.Create(rs);
                        for (; j + 8 <= j1; j += 8)
                        {
                            var g = Vector256.Load(gyr + j);
                            (Vector256.Load(gws + j) + g * (Vector256.Load(xr + j) - vmu) * vrs).Store(gws + j);
                            (Vector256.Load(gbs + j) + g).Store(gbs + j);
                        }
                    }
                    for (; j < j1; j++)
                    {
                        gws[j] += gyr[j] * (xr[j] - mu) * rs;
                        gbs[j] += gyr[j];
                    }
                }
            }
        });
    }
}

/// <summary>Small vectorised helpers over one contiguous row.</summary>
internal static unsafe class ElementwiseRow
{
    public static void AddScalar(float* x, float* y, int n, float a)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(a);
            for (; i + 8 <= n; i += 8) Vector256.Store(Vector256.Load(x + i) + va, y + i);
        }
        for (; i < n; i++) y[i] = x[i] + a;
    }

    /// <summary>y = a·x + m (m may be null) and the max of y; y may be x.</summary>
    public static float ScaleAddMax(float* x, float* m, float* y, int n, float a)
    {
        int i = 0;
        float max = float.NegativeInfinity;
        if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            var va = Vector256.Create(a);
            var vmax = Vector256.Create(float.NegativeInfinity);
            for (; i + 8 <= n; i += 8)
            {
                var v = m == null ? Vector256.Load(x + i) * va
                    : Vector256.FusedMultiplyAdd(Vector256.Load(x + i), va, Vector256.Load(m + i));
                Vector256.Store(v, y + i);
                vmax = Vector256.Max(vmax, v);
            }
            for (int l = 0; l < 8; l++) max = MathF.Max(max, vmax.GetElement(l));
        }
        for (; i < n; i++)
        {
            y[i] = m == null ? a * x[i] : MathF.FusedMultiplyAdd(x[i], a, m[i]);
            max = MathF.Max(max, y[i]);
        }
        return max;
    }

    public static void Scale(float* y, int n, float a) => Scale(y, y, n, a);

    /// <summary>y = a·x; y may be x.</summary>
    public static void Scale(float* x, float* y, int n, float a)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(a);
            for (; i + 8 <= n; i += 8) Vector256.Store(Vector256.Load(x + i) * va, y + i);
        }
        for (; i < n; i++) y[i] = x[i] * a;
    }

    /// <summary>y = exp(x + shift) (when y is not null) and the sum of exp(x + shift).</summary>
    public static void Exp(float* x, float* y, int n, float shift, out float sum)
    {
        int i = 0;
        sum = 0f;
        if (Vector256.IsHardwareAccelerated)
        {
            var acc = Vector256<float>.Zero;
            var vs = Vector256.Create(shift);
            for (; i + 8 <= n; i += 8)
            {
                var v = VMath.Exp(Vector256.Load(x + i) + vs);
                if (y != null) Vector256.Store(v, y + i);
                acc += v;
            }
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++)
        {
            float v = VMath.Exp(x[i] + shift);
            if (y != null) y[i] = v;
            sum += v;
        }
    }

    public static float Dot(float* a, float* b, int n)
    {
        int i = 0;
        float sum = 0f;
        if (Vector256.IsHardwareAccelerated)
        {
            var acc = Vector256<float>.Zero;
            for (; i + 8 <= n; i += 8) acc = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), acc);
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++) sum += a[i] * b[i];
        return sum;
    }

    public static float SumSquaredDiff(float* x, int n, float mu)
    {
        int i = 0;
        float sum = 0f;
        if (Vector256.IsHardwareAccelerated)
        {
            var acc = Vector256<float>.Zero;
            var vmu = Vector256.Create(mu);
            for (; i + 8 <= n; i += 8)
            {
                var d = Vector256.Load(x + i) - vmu;
                acc = Vector256.FusedMultiplyAdd(d, d, acc);
            }
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++) sum += (x[i] - mu) * (x[i] - mu);
        return sum;
    }
}
