namespace Finetune.Kernels.Cpu;

/// <summary>
/// Splits work into chunks whose boundaries depend only on the problem size and the grain, never on the
/// thread count, so reductions over chunks repeat bit for bit.
/// </summary>
public static class CpuParallel
{
    private static int _threads = Environment.ProcessorCount;

    /// <summary>Worker threads the CPU kernels use (default: the processor count).</summary>
    public static int Threads
    {
        get => _threads;
        set
        {
            if (value < 1) throw new ArgumentOutOfRangeException(nameof(Threads), value, "thread count must be at least 1");
            _threads = value;
        }
    }

    public static long ChunkCount(long n, long grain) => n <= 0 ? 0 : (n + grain - 1) / grain;

    /// <summary>Runs body(start, end) over [0, n) in chunks of <paramref name="grain"/> items.</summary>
    public static void For(long n, long grain, Action<long, long> body)
    {
        if (grain < 1) grain = 1;
        long chunks = ChunkCount(n, grain);
        if (chunks == 0) return;
        if (chunks == 1 || _threads == 1)
        {
            for (long c = 0; c < chunks; c++) body(c * grain, Math.Min(n, (c + 1) * grain));
            return;
        }
        var options = new ParallelOptions { MaxDegreeOfParallelism = _threads };
        Parallel.For(0L, chunks, options, c => body(c * grain, Math.Min(n, (c + 1) * grain)));
    }

    /// <summary>A grain that gives each chunk about <paramref name="workPerChunk"/> units when an item costs
    /// <paramref name="costPerItem"/>.</summary>
    public static long Grain(long costPerItem, long workPerChunk = 1 << 15) => Math.Max(1, workPerChunk / Math.Max(1, costPerItem));
}
