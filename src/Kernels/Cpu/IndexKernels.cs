namespace Finetune.Kernels.Cpu;

/// <summary>Kernels that index with data: embedding gather/scatter and the negative log-likelihood.</summary>
internal static unsafe class IndexKernels
{
    private static void CheckIndex(string kernel, long position, int value, int limit, string what)
    {
        if ((uint)value >= (uint)limit)
            throw new ArgumentOutOfRangeException(what, value,
                $"{kernel}: {what}[{position}] = {value} is outside [0, {limit})");
    }

    public static void Gather(float* table, int tableRows, int cols, int* ids, long count, float* output)
    {
        for (long i = 0; i < count; i++) CheckIndex("embedding", i, ids[i], tableRows, "ids");
        nint pt = (nint)table, pi = (nint)ids, po = (nint)output;
        CpuParallel.For(count, CpuParallel.Grain(cols), (s, e) =>
        {
            for (long i = s; i < e; i++)
                new ReadOnlySpan<float>((float*)pt + (long)((int*)pi)[i] * cols, cols).CopyTo(new Span<float>((float*)po + i * cols, cols));
        });
    }

    public static void ScatterAdd(float* gOut, int* ids, long count, int cols, float* gTable, int tableRows)
    {
        for (long i = 0; i < count; i++) CheckIndex("embedding backward", i, ids[i], tableRows, "ids");
        // Column blocks are independent and each walks the ids in order, so repeated ids add deterministically.
        const int Block = 64;
        long blocks = (cols + Block - 1) / Block;
        nint pg = (nint)gOut, pi = (nint)ids, pt = (nint)gTable;
        CpuParallel.For(blocks, 1, (s, e) =>
        {
            for (long blk = s; blk < e; blk++)
            {
                int j0 = (int)blk * Block, j1 = Math.Min(cols, j0 + Block);
                for (long i = 0; i < count; i++)
                {
                    float* src = (float*)pg + i * cols;
                    float* dst = (float*)pt + (long)((int*)pi)[i] * cols;
                    for (int j = j0; j < j1; j++) dst[j] += src[j];
                }
            }
        });
    }

    public static void NllLoss(float* logp, int* targets, int rows, int classes, int ignoreIndex, float* loss, float* weight)
    {
        for (int r = 0; r < rows; r++)
        {
            int t = targets[r];
            if (t == ignoreIndex)
            {
                loss[r] = 0f;
                weight[r] = 0f;
                continue;
            }
            CheckIndex("cross_entropy", r, t, classes, "targets");
            loss[r] = -logp[(long)r * classes + t];
            weight[r] = 1f;
        }
    }

    public static void NllLossBackward(float* gLoss, int* targets, int rows, int classes, int ignoreIndex, float* gLogp)
    {
        new Span<float>(gLogp, checked(rows * classes)).Clear();
        for (int r = 0; r < rows; r++)
        {
            int t = targets[r];
            if (t == ignoreIndex) continue;
            CheckIndex("cross_entropy backward", r, t, classes, "targets");
            gLogp[(long)r * classes + t] = -gLoss[r];
        }
    }

    /// <summary>Each element depends on its index alone, so any chunking or thread count gives the same numbers.</summary>
    public static void RandomUniform(ulong seed, ulong offset, long count, float low, float high, float* output)
    {
        nint po = (nint)output;
        var map = new UniformMap(low, high - low);
        CpuParallel.For(count, 1 << 16, (s, e) => PhiloxVector.Generate(seed, offset, s, e - s, (float*)po + s, map));
    }

    public static void RandomNormal(ulong seed, ulong offset, long count, float mean, float std, float* output) =>
        ForEachBlock<NormalLane>(seed, offset, count, output, mean, std);

    private interface ILaneValue
    {
        static abstract float Of((uint, uint, uint, uint) block, int lane, float shift, float scale);
    }

    private struct NormalLane : ILaneValue
    {
        public static float Of((uint, uint, uint, uint) block, int lane, float shift, float scale) =>
            shift + scale * Philox.NormalOf(block, lane);
    }

    /// <summary>Computes each Philox block once and writes its four lanes (chunks are whole blocks).</summary>
    private static void ForEachBlock<TValue>(ulong seed, ulong offset, long count, float* output, float shift, float scale)
        where TValue : struct, ILaneValue
    {
        nint po = (nint)output;
        CpuParallel.For((count + 3) / 4, 1 << 12, (s, e) =>
        {
            float* o = (float*)po;
            for (long q = s; q < e; q++)
            {
                var block = Philox.Block(seed, offset + (ulong)q);
                long i0 = q * 4;
                int lanes = (int)Math.Min(4, count - i0);
                for (int lane = 0; lane < lanes; lane++) o[i0 + lane] = TValue.Of(block, lane, shift, scale);
            }
        });
    }
}
