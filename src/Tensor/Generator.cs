using Finetune.Kernels;

namespace Finetune;

/// <summary>
/// A seeded stream of Philox counters. Each draw reserves a counter range, so the numbers depend only on the
/// seed and the order of draws — identical on every backend and every thread count.
/// </summary>
public sealed class Generator
{
    public Generator(ulong seed) => Seed = seed;

    public ulong Seed { get; }

    /// <summary>The next unused counter; save and restore it to resume a stream exactly.</summary>
    public ulong Offset { get; set; }

    /// <summary>The process-wide default stream (seed 0) used when an op is given no generator.</summary>
    public static Generator Default { get; set; } = new(0);

    internal ulong Reserve(long count)
    {
        ulong start = Offset;
        Offset += Philox.CountersFor(count);
        return start;
    }
}
