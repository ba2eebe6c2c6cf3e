using System.Runtime.CompilerServices;

namespace Finetune.Kernels;

/// <summary>
/// Philox4x32-10 counter-based generator (Salmon et al., 2011). A (seed, counter) pair maps to four
/// 32-bit words with no state, so any backend can produce element i independently and identically.
/// </summary>
public static class Philox
{
    private const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    public static (uint, uint, uint, uint) Block(ulong seed, ulong counter) =>
        Block((uint)counter, (uint)(counter >> 32), 0, 0, (uint)seed, (uint)(seed >> 32));

    /// <summary>The full 128-bit counter, 64-bit key form (as in Random123's known-answer tests).</summary>
    public static (uint, uint, uint, uint) Block(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        for (int round = 0; round < 10; round++)
        {
            ulong p0 = (ulong)M0 * c0, p1 = (ulong)M1 * c2;
            uint n0 = (uint)(p1 >> 32) ^ c1 ^ k0;
            uint n2 = (uint)(p0 >> 32) ^ c3 ^ k1;
            c0 = n0; c1 = (uint)p1; c2 = n2; c3 = (uint)p0;
            k0 += W0; k1 += W1;
        }
        return (c0, c1, c2, c3);
    }

    /// <summary>Maps 32 random bits to a float in [0, 1) using the top 24 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToUnit(uint bits) => (bits >> 8) * (1.0f / 16777216.0f);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Lane((uint, uint, uint, uint) block, int lane) => lane switch
    {
        0 => block.Item1,
        1 => block.Item2,
        2 => block.Item3,
        _ => block.Item4,
    };

    /// <summary>Uniform in [0,1) for element <paramref name="index"/> of the stream at (seed, offset).</summary>
    public static float Uniform(ulong seed, ulong offset, long index) =>
        ToUnit(Lane(Block(seed, offset + (ulong)(index >> 2)), (int)(index & 3)));

    /// <summary>Standard normal for element <paramref name="index"/>: Box–Muller on lane pairs (0,1) and (2,3).</summary>
    public static float Normal(ulong seed, ulong offset, long index)
    {
        var block = Block(seed, offset + (ulong)(index >> 2));
        int lane = (int)(index & 3);
        int pair = lane & 2;
        // 1 - u keeps the log argument in (0, 1].
        float u1 = 1.0f - ToUnit(Lane(block, pair));
        float u2 = ToUnit(Lane(block, pair + 1));
        float r = MathF.Sqrt(-2.0f * MathF.Log(u1));
        float theta = 2.0f * MathF.PI * u2;
        return (lane & 1) == 0 ? r * MathF.Cos(theta) : r * MathF.Sin(theta);
    }

    /// <summary>Counters a draw of <paramref name="count"/> elements consumes.</summary>
    public static ulong CountersFor(long count) => (ulong)((count + 3) >> 2);
}
