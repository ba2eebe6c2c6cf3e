using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Finetune.Kernels.Cpu;

/// <summary>
/// Dropout keep-scales straight from the Philox stream, for kernels that drop their input on the fly: element e
/// gets 1/(1-p) when <c>Philox.Uniform(seed, offset, e) ≥ p</c>, else 0 — the same floats as
/// <see cref="UnaryOp.DropoutMask"/> over <see cref="IBackend.RandomUniform"/>. With AVX2, eight Philox blocks run
/// side by side (32-bit high/low products from <c>vpmuludq</c> on even and odd lanes) and a 4×8 transpose puts the
/// lanes back in element order.
/// </summary>
internal static unsafe class PhiloxDropout
{
    private const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    /// <summary>scales[k] = keep-scale of stream element <paramref name="start"/> + k, for k &lt; <paramref name="count"/>.</summary>
    public static void KeepScales(in DropoutStream d, long start, long count, float* scales)
    {
        long e = start, end = start + count;
        float p = d.P, keep = d.KeepScale;
        for (; e < end && (e & 3) != 0; e++) scales[e - start] = Philox.Uniform(d.Seed, d.Offset, e) >= p ? keep : 0f;
        if (Avx2.IsSupported)
            for (; e + 32 <= end; e += 32)
            {
                ulong counter = d.Offset + (ulong)(e >> 2);
                if ((uint)counter > uint.MaxValue - 7) break;             // the low word wraps inside the group: scalar
                Eight(d.Seed, counter, p, keep, scales + (e - start));
            }
        for (; e + 4 <= end; e += 4)
        {
            var block = Philox.Block(d.Seed, d.Offset + (ulong)(e >> 2));
            float* s = scales + (e - start);
            s[0] = Philox.ToUnit(block.Item1) >= p ? keep : 0f;
            s[1] = Philox.ToUnit(block.Item2) >= p ? keep : 0f;
            s[2] = Philox.ToUnit(block.Item3) >= p ? keep : 0f;
            s[3] = Philox.ToUnit(block.Item4) >= p ? keep : 0f;
        }
        for (; e < end; e++) scales[e - start] = Philox.Uniform(d.Seed, d.Offset, e) >= p ? keep : 0f;
    }

    /// <summary>Blocks counter .. counter+7 (no carry into the high word) → 32 keep-scales in element order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Eight(ulong seed, ulong counter, float p, float keep, float* o)
    {
        var c0 = Vector256.Create((uint)counter) + Vector256.Create(0u, 1, 2, 3, 4, 5, 6, 7);
        var c1 = Vector256.Create((uint)(counter >> 32));
        var c2 = Vector256<uint>.Zero;
        var c3 = Vector256<uint>.Zero;
        var k0 = Vector256.Create((uint)seed);
        var k1 = Vector256.Create((uint)(seed >> 32));
        var m0 = Vector256.Create(M0);
        var m1 = Vector256.Create(M1);
        for (int round = 0; round < 10; round++)
        {
            var (hi0, lo0) = MulHiLo(c0, m0);
            var (hi1, lo1) = MulHiLo(c2, m1);
            c0 = hi1 ^ c1 ^ k0;
            c2 = hi0 ^ c3 ^ k1;
            c1 = lo1;
            c3 = lo0;
            k0 += Vector256.Create(W0);
            k1 += Vector256.Create(W1);
        }
        var vp = Vector256.Create(p);
        var vk = Vector256.Create(keep);
        var a = Scale(c0, vp, vk);
        var b = Scale(c1, vp, vk);
        var c = Scale(c2, vp, vk);
        var dd = Scale(c3, vp, vk);
        // 4×8 transpose: lane l of block q is element 4q + l.
        var t0 = Avx.UnpackLow(a, b);
        var t1 = Avx.UnpackHigh(a, b);
        var t2 = Avx.UnpackLow(c, dd);
        var t3 = Avx.UnpackHigh(c, dd);
        var u0 = Avx.UnpackLow(t0.AsDouble(), t2.AsDouble()).AsSingle();
        var u1 = Avx.UnpackHigh(t0.AsDouble(), t2.AsDouble()).AsSingle();
        var u2 = Avx.UnpackLow(t1.AsDouble(), t3.AsDouble()).AsSingle();
        var u3 = Avx.UnpackHigh(t1.AsDouble(), t3.AsDouble()).AsSingle();
        Avx.Permute2x128(u0, u1, 0x20).Store(o);
        Avx.Permute2x128(u2, u3, 0x20).Store(o + 8);
        Avx.Permute2x128(u0, u1, 0x31).Store(o + 16);
        Avx.Permute2x128(u2, u3, 0x31).Store(o + 24);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<uint> Hi, Vector256<uint> Lo) MulHiLo(Vector256<uint> a, Vector256<uint> m)
    {
        var even = Avx2.Multiply(a, m);
        var odd = Avx2.Multiply((a.AsUInt64() >> 32).AsUInt32(), m);
        var hi = (even >> 32) | (odd & Vector256.Create(0xFFFFFFFF00000000UL));
        var lo = (even & Vector256.Create(0xFFFFFFFFUL)) | (odd << 32);
        return (hi.AsUInt32(), lo.AsUInt32());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Scale(Vector256<uint> bits, Vector256<float> p, Vector256<float> keep)
    {
        var u = Vector256.ConvertToSingle((bits >> 8).AsInt32()) * Vector256.Create(1.0f / 16777216.0f);
        return Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(u, p), keep, Vector256<float>.Zero);
    }
}
