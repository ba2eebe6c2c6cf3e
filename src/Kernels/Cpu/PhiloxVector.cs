using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Finetune.Kernels.Cpu;

/// <summary>
/// Philox4x32-10 with one block per 128-bit lane: the lanes hold a block's words (c0, c1, c2, c3) in element order, so
/// a vector of results is already elements 4q .. 4q+3 of consecutive blocks and needs no transpose. A round is one
/// <c>vpmuludq</c> (c0·M0 and c2·M1 in the even lanes' 64-bit products), one <c>vpshufd</c> that reverses the product
/// words into (hi1, lo1, hi0, lo0), one 64-bit shift that brings c1 and c3 down, two xors and the round key.
/// Vector512 on AVX-512, Vector256 on AVX2, <see cref="Philox.Block(ulong, ulong)"/> otherwise: the same bits as the
/// scalar generator for every element, whatever the start, length, vector width or thread.
/// </summary>
internal static unsafe class PhiloxVector
{
    private const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85;
    private const float Unit = 1.0f / 16777216.0f;
    // Four independent vectors per step hide the latency of the multiply chain.
    private const int Unroll = 4;

    /// <summary>The widest vector to use (512, 256, or 0 for scalar); tests lower it to cover every path on one machine.</summary>
    internal static int MaxBits { get; set; } = 512;

    /// <summary>output[k] = map(Philox.Uniform(seed, offset, start + k)) for k &lt; count.</summary>
    public static void Generate<TMap>(ulong seed, ulong offset, long start, long count, float* output, TMap map)
        where TMap : struct, IUnitMap
    {
        long e = start, end = start + count;
        float* o = output - start;
        for (; e < end && (e & 3) != 0; e++) o[e] = map.Map(Philox.Uniform(seed, offset, e));
        if (MaxBits >= 512 && Avx512F.IsSupported && end - e >= 16) e = Run<Width512, Vector512<uint>, TMap>(seed, offset, e, end, o, map);
        else if (MaxBits >= 256 && Avx2.IsSupported && end - e >= 8) e = Run<Width256, Vector256<uint>, TMap>(seed, offset, e, end, o, map);
        for (; e + 4 <= end; e += 4)
        {
            var block = Philox.Block(seed, offset + (ulong)(e >> 2));
            o[e] = map.Map(Philox.ToUnit(block.Item1));
            o[e + 1] = map.Map(Philox.ToUnit(block.Item2));
            o[e + 2] = map.Map(Philox.ToUnit(block.Item3));
            o[e + 3] = map.Map(Philox.ToUnit(block.Item4));
        }
        for (; e < end; e++) o[e] = map.Map(Philox.Uniform(seed, offset, e));
    }

    /// <summary>Whole blocks from element <paramref name="e"/> (a multiple of 4); returns the first element not written.</summary>
    private static long Run<TWidth, TV, TMap>(ulong seed, ulong offset, long e, long end, float* o, TMap map)
        where TWidth : struct, IPhiloxWidth<TV> where TV : unmanaged where TMap : struct, IUnitMap
    {
        var keys = stackalloc TV[10];
        for (uint r = 0; r < 10; r++) keys[r] = TWidth.Key(seed, r);
        int width = 4 * TWidth.Blocks;
        for (; e + width * Unroll <= end; e += width * Unroll)
        {
            ulong counter = offset + (ulong)(e >> 2);
            var a0 = TWidth.Counters(counter);
            var a1 = TWidth.Counters(counter + (ulong)TWidth.Blocks);
            var a2 = TWidth.Counters(counter + 2 * (ulong)TWidth.Blocks);
            var a3 = TWidth.Counters(counter + 3 * (ulong)TWidth.Blocks);
            for (int r = 0; r < 10; r++)
            {
                var k = keys[r];
                a0 = TWidth.Round(a0, k);
                a1 = TWidth.Round(a1, k);
                a2 = TWidth.Round(a2, k);
                a3 = TWidth.Round(a3, k);
            }
            TWidth.Store(a0, o + e, map);
            TWidth.Store(a1, o + e + width, map);
            TWidth.Store(a2, o + e + 2 * width, map);
            TWidth.Store(a3, o + e + 3 * width, map);
        }
        for (; e + width <= end; e += width)
        {
            var a = TWidth.Counters(offset + (ulong)(e >> 2));
            for (int r = 0; r < 10; r++) a = TWidth.Round(a, keys[r]);
            TWidth.Store(a, o + e, map);
        }
        return e;
    }

    /// <summary>Round r's key (k0 + r·W0, k1 + r·W1) where the round's xors need it: words 0 and 2 of a block.</summary>
    private static Vector128<uint> RoundKey(ulong seed, uint r) => Vector128.Create((uint)seed + r * W0, 0, (uint)(seed >> 32) + r * W1, 0);

    /// <summary>One vector width: blocks per vector, counters, a round, and the conversion of finished blocks.</summary>
    private interface IPhiloxWidth<TV> where TV : unmanaged
    {
        static abstract int Blocks { get; }
        static abstract TV Key(ulong seed, uint round);
        /// <summary>Blocks counter, counter + 1, ...: words c0 | c1 &lt;&lt; 32 (the 64-bit counter, carries included),
        /// c2 = c3 = 0.</summary>
        static abstract TV Counters(ulong counter);
        /// <summary>
        /// (c0, c1, c2, c3) → (hi(M1·c2) ^ c1 ^ k0, lo(M1·c2), hi(M0·c0) ^ c3 ^ k1, lo(M0·c0)) in every 128-bit lane.
        /// </summary>
        static abstract TV Round(TV c, TV key);
        static abstract void Store<TMap>(TV bits, float* o, TMap map) where TMap : struct, IUnitMap;
    }

    private readonly struct Width512 : IPhiloxWidth<Vector512<uint>>
    {
        public static int Blocks => 4;
        public static Vector512<uint> Key(ulong seed, uint round) => Vector512.Create(RoundKey(seed, round));
        public static Vector512<uint> Counters(ulong c) => Vector512.Create(c, 0, c + 1, 0, c + 2, 0, c + 3, 0).AsUInt32();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<uint> Round(Vector512<uint> c, Vector512<uint> key) =>
            Avx512F.Shuffle(Avx512F.Multiply(c, Vector512.Create(Vector128.Create(M0, 0, M1, 0))).AsUInt32(), 0x1B)
                ^ (c.AsUInt64() >> 32).AsUInt32() ^ key;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Store<TMap>(Vector512<uint> bits, float* o, TMap map) where TMap : struct, IUnitMap =>
            map.Map(Vector512.ConvertToSingle((bits >> 8).AsInt32()) * Vector512.Create(Unit)).Store(o);
    }

    private readonly struct Width256 : IPhiloxWidth<Vector256<uint>>
    {
        public static int Blocks => 2;
        public static Vector256<uint> Key(ulong seed, uint round) => Vector256.Create(RoundKey(seed, round));
        public static Vector256<uint> Counters(ulong c) => Vector256.Create(c, 0, c + 1, 0).AsUInt32();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<uint> Round(Vector256<uint> c, Vector256<uint> key) =>
            Avx2.Shuffle(Avx2.Multiply(c, Vector256.Create(Vector128.Create(M0, 0, M1, 0))).AsUInt32(), 0x1B)
                ^ (c.AsUInt64() >> 32).AsUInt32() ^ key;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Store<TMap>(Vector256<uint> bits, float* o, TMap map) where TMap : struct, IUnitMap =>
            map.Map(Vector256.ConvertToSingle((bits >> 8).AsInt32()) * Vector256.Create(Unit)).Store(o);
    }
}

/// <summary>What a uniform in [0, 1) becomes: the same function in scalar and vector form, so every width agrees.</summary>
internal interface IUnitMap
{
    float Map(float u);
    Vector256<float> Map(Vector256<float> u);
    Vector512<float> Map(Vector512<float> u);
}

/// <summary>low + scale·u (a multiply then an add, never fused, as the scalar form rounds).</summary>
internal readonly struct UniformMap(float low, float scale) : IUnitMap
{
    public float Map(float u) => low + scale * u;
    public Vector256<float> Map(Vector256<float> u) => Vector256.Create(low) + Vector256.Create(scale) * u;
    public Vector512<float> Map(Vector512<float> u) => Vector512.Create(low) + Vector512.Create(scale) * u;
}

/// <summary>Dropout's keep-scale: <c>keep</c> where u ≥ p, else 0 (<see cref="UnaryOp.DropoutMask"/>).</summary>
internal readonly struct KeepScaleMap(float p, float keep) : IUnitMap
{
    public float Map(float u) => u >= p ? keep : 0f;
    public Vector256<float> Map(Vector256<float> u) =>
        Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(u, Vector256.Create(p)), Vector256.Create(keep), Vector256<float>.Zero);
    public Vector512<float> Map(Vector512<float> u) =>
        Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(u, Vector512.Create(p)), Vector512.Create(keep), Vector512<float>.Zero);
}
