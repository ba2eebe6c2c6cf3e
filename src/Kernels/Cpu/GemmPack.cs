using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Finetune.Kernels.Cpu;

/// <summary>
/// Packs blocks of op(A) and op(B) into the panel layout the micro-kernels read, so every transpose case
/// reaches the kernel as the same unit-stride stream. Partial panels are zero-padded to a full tile.
/// </summary>
/// <remarks>Hot loops are compiled fully optimised on first call: a GEMM runs them only a few times per call, so tiering would leave them
/// slow for many calls.</remarks>
internal static unsafe class GemmPack
{
    /// <summary>
    /// Packs op(A)[i0..i0+mc, p0..p0+kc] as ceil(mc/mr) panels of kc×mr: dst[panel][p·mr + r] = op(A)[i0+panel·mr+r, p0+p].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA(bool transA, float* a, long lda, int i0, int mc, int p0, int kc, int mr, float* dst)
    {
        for (int ir = 0; ir < mc; ir += mr, dst += (long)kc * mr)
        {
            int rows = Math.Min(mr, mc - ir);
            if (transA)
                CopyRows(a + (long)p0 * lda + i0 + ir, lda, kc, rows, mr, dst);
            else
                Transpose(a + (long)(i0 + ir) * lda + p0, lda, rows, kc, mr, dst);
        }
    }

    /// <summary>
    /// Packs op(B)[p0..p0+kc, j0..j0+cols] (cols ≤ nr) as one kc×nr panel: dst[p·nr + j] = op(B)[p0+p, j0+j], zero past cols.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackBPanel(bool transB, float* b, long ldb, int p0, int kc, int j0, int cols, int nr, float* dst)
    {
        if (transB)
            Transpose(b + (long)j0 * ldb + p0, ldb, cols, kc, nr, dst);
        else
            CopyRows(b + (long)p0 * ldb + j0, ldb, kc, cols, nr, dst);
    }

    /// <summary>dst[p·width + j] = src[p·ld + j] for j &lt; count, zero for count ≤ j &lt; width (the case where the source is already
    /// k-major).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void CopyRows(float* src, long ld, int kc, int count, int width, float* dst)
    {
        if (count == width && width >= 8 && Vector256.IsHardwareAccelerated)
        {
            // A width that is not a multiple of 8 ends with an overlapping vector (same values written twice).
            int last = width - 8;
            for (int p = 0; p < kc; p++, src += ld, dst += width)
            {
                for (int j = 0; j < last; j += 8)
                    Vector256.Store(Vector256.Load(src + j), dst + j);
                Vector256.Store(Vector256.Load(src + last), dst + last);
            }
            return;
        }
        if (count == width && width >= 4 && Vector128.IsHardwareAccelerated)
        {
            // A narrow panel (AVX2's 6-row A panel of a transposed A): 4-float vectors, the last one overlapping.
            int last = width - 4;
            for (int p = 0; p < kc; p++, src += ld, dst += width)
            {
                for (int j = 0; j < last; j += 4)
                    Vector128.Store(Vector128.Load(src + j), dst + j);
                Vector128.Store(Vector128.Load(src + last), dst + last);
            }
            return;
        }
        for (int p = 0; p < kc; p++, src += ld, dst += width)
        {
            int j = 0;
            for (; j < count; j++) dst[j] = src[j];
            for (; j < width; j++) dst[j] = 0f;
        }
    }

    /// <summary>
    /// dst[p·width + r] = src[r·ld + p] for r &lt; count (zero-padded to width): turns count rows of length kc into
    /// k-major order. Full groups of 8 rows use an 8×8 register transpose; the rest goes element by element.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose(float* src, long ld, int count, int kc, int width, float* dst)
    {
        int r = 0;
        if (Avx.IsSupported && count >= 8)
        {
            // Groups of 8 rows; a ragged end reuses an overlapping group (rows written twice with the same values).
            for (int g = 0; g < count; g += 8)
            {
                r = Math.Min(g, count - 8);
                float* s = src + r * ld;
                int p = 0;
                for (; p + 8 <= kc; p += 8)
                    Transpose8x8(s + p, ld, dst + (long)p * width + r, width);
                for (; p < kc; p++)
                    for (int q = 0; q < 8; q++) dst[(long)p * width + r + q] = s[q * ld + p];
            }
            r = count;
        }
        int p0 = 0;
        if (Avx.IsSupported && count < 8 && width <= 8)
        {
            // Fewer than 8 rows (AVX2's 6-row A panel): one 8×8 register transpose per 8 columns with the missing rows zero,
            // each output row stored whole. Lanes past count are zeros, so an 8-wide panel gets its padding from them; in a
            // narrower panel they spill into the next output row, which the next store overwrites — so there the last 8
            // columns (whose spill would leave the panel) go element by element below.
            for (; p0 + 8 <= kc && (width == 8 || p0 + 8 < kc); p0 += 8)
                Transpose8x8Rows(src + p0, ld, count, dst + (long)p0 * width, width);
        }
        for (; r < count; r++)
        {
            float* s = src + r * ld;
            for (int p = p0; p < kc; p++) dst[(long)p * width + r] = s[p];
        }
        for (; r < width; r++)
            for (int p = p0; p < kc; p++) dst[(long)p * width + r] = 0f;
    }

    /// <summary>The first <paramref name="rows"/> (&lt; 8) rows of an 8-column block, the rest zero, written transposed: 8 rows
    /// of 8 floats at stride <paramref name="dstStride"/>, in order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8Rows(float* s, long ld, int rows, float* d, int dstStride)
    {
        var z = Vector256<float>.Zero;
        var r0 = Avx.LoadVector256(s);
        var r1 = rows > 1 ? Avx.LoadVector256(s + ld) : z;
        var r2 = rows > 2 ? Avx.LoadVector256(s + 2 * ld) : z;
        var r3 = rows > 3 ? Avx.LoadVector256(s + 3 * ld) : z;
        var r4 = rows > 4 ? Avx.LoadVector256(s + 4 * ld) : z;
        var r5 = rows > 5 ? Avx.LoadVector256(s + 5 * ld) : z;
        var r6 = rows > 6 ? Avx.LoadVector256(s + 6 * ld) : z;
        TransposeStore(r0, r1, r2, r3, r4, r5, r6, z, d, dstStride);
    }

    /// <summary>Reads an 8×8 block (rows at stride ld) and writes its transpose (rows at stride dstStride).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8x8(float* s, long ld, float* d, int dstStride)
    {
        var r0 = Avx.LoadVector256(s);
        var r1 = Avx.LoadVector256(s + ld);
        var r2 = Avx.LoadVector256(s + 2 * ld);
        var r3 = Avx.LoadVector256(s + 3 * ld);
        var r4 = Avx.LoadVector256(s + 4 * ld);
        var r5 = Avx.LoadVector256(s + 5 * ld);
        var r6 = Avx.LoadVector256(s + 6 * ld);
        var r7 = Avx.LoadVector256(s + 7 * ld);
        TransposeStore(r0, r1, r2, r3, r4, r5, r6, r7, d, dstStride);
    }

    /// <summary>Writes the transpose of the 8×8 block in rows r0…r7: output row c (column c of the block) at d + c·dstStride.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TransposeStore(Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7, float* d, int dstStride)
    {
        var t0 = Avx.UnpackLow(r0, r1);
        var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5);
        var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7);
        var t7 = Avx.UnpackHigh(r6, r7);
        var s0 = Avx.Shuffle(t0, t2, 0x44);
        var s1 = Avx.Shuffle(t0, t2, 0xEE);
        var s2 = Avx.Shuffle(t1, t3, 0x44);
        var s3 = Avx.Shuffle(t1, t3, 0xEE);
        var s4 = Avx.Shuffle(t4, t6, 0x44);
        var s5 = Avx.Shuffle(t4, t6, 0xEE);
        var s6 = Avx.Shuffle(t5, t7, 0x44);
        var s7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(d, Avx.Permute2x128(s0, s4, 0x20));
        Avx.Store(d + dstStride, Avx.Permute2x128(s1, s5, 0x20));
        Avx.Store(d + 2 * dstStride, Avx.Permute2x128(s2, s6, 0x20));
        Avx.Store(d + 3 * dstStride, Avx.Permute2x128(s3, s7, 0x20));
        Avx.Store(d + 4 * dstStride, Avx.Permute2x128(s0, s4, 0x31));
        Avx.Store(d + 5 * dstStride, Avx.Permute2x128(s1, s5, 0x31));
        Avx.Store(d + 6 * dstStride, Avx.Permute2x128(s2, s6, 0x31));
        Avx.Store(d + 7 * dstStride, Avx.Permute2x128(s3, s7, 0x31));
    }
}
