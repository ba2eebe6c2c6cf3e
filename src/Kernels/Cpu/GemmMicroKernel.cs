using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Finetune.Kernels.Cpu;

/// <summary>
/// Register-blocked GEMM micro-kernels over packed panels: A as kc×MR (MR scalars per k step), B as kc×NR
/// (NR contiguous floats per k step), C an MR×NR row-major tile. Accumulation runs p = 0..kc-1 in order.
/// The AVX-512 and AVX2 bodies are generated (unrolled by hand so the JIT keeps every accumulator in a register).
/// </summary>
internal static unsafe class GemmMicroKernel
{
    public const int Avx512Mr = 14, Avx512Nr = 32, Avx2Mr = 6, Avx2Nr = 16;

    /// <summary>14×32 tile: C[0..14, 0..32] = alpha·Σp a[p·14+i]·b[p·32+j] + beta·C; beta == 0 never reads C.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Avx512Kernel(int kc, float* a, float* b, float* c, long ldc, float alpha, float beta)
    {
        Vector512<float> c0_0 = default; Vector512<float> c0_1 = default;
        Vector512<float> c1_0 = default; Vector512<float> c1_1 = default;
        Vector512<float> c2_0 = default; Vector512<float> c2_1 = default;
        Vector512<float> c3_0 = default; Vector512<float> c3_1 = default;
        Vector512<float> c4_0 = default; Vector512<float> c4_1 = default;
        Vector512<float> c5_0 = default; Vector512<float> c5_1 = default;
        Vector512<float> c6_0 = default; Vector512<float> c6_1 = default;
        Vector512<float> c7_0 = default; Vector512<float> c7_1 = default;
        Vector512<float> c8_0 = default; Vector512<float> c8_1 = default;
        Vector512<float> c9_0 = default; Vector512<float> c9_1 = default;
        Vector512<float> c10_0 = default; Vector512<float> c10_1 = default;
        Vector512<float> c11_0 = default; Vector512<float> c11_1 = default;
        Vector512<float> c12_0 = default; Vector512<float> c12_1 = default;
        Vector512<float> c13_0 = default; Vector512<float> c13_1 = default;
        int p = 0;
        for (; p + 4 <= kc; p += 4)
        {
            {
                Vector512<float> b0 = Vector512.Load(b + 0);
                Vector512<float> b1 = Vector512.Load(b + 16);
                { var ai = Vector512.Create(a[0]); c0_0 = Avx512F.FusedMultiplyAdd(ai, b0, c0_0); c0_1 = Avx512F.FusedMultiplyAdd(ai, b1, c0_1); }
                { var ai = Vector512.Create(a[1]); c1_0 = Avx512F.FusedMultiplyAdd(ai, b0, c1_0); c1_1 = Avx512F.FusedMultiplyAdd(ai, b1, c1_1); }
                { var ai = Vector512.Create(a[2]); c2_0 = Avx512F.FusedMultiplyAdd(ai, b0, c2_0); c2_1 = Avx512F.FusedMultiplyAdd(ai, b1, c2_1); }
                { var ai = Vector512.Create(a[3]); c3_0 = Avx512F.FusedMultiplyAdd(ai, b0, c3_0); c3_1 = Avx512F.FusedMultiplyAdd(ai, b1, c3_1); }
                { var ai = Vector512.Create(a[4]); c4_0 = Avx512F.FusedMultiplyAdd(ai, b0, c4_0); c4_1 = Avx512F.FusedMultiplyAdd(ai, b1, c4_1); }
                { var ai = Vector512.Create(a[5]); c5_0 = Avx512F.FusedMultiplyAdd(ai, b0, c5_0); c5_1 = Avx512F.FusedMultiplyAdd(ai, b1, c5_1); }
                { var ai = Vector512.Create(a[6]); c6_0 = Avx512F.FusedMultiplyAdd(ai, b0, c6_0); c6_1 = Avx512F.FusedMultiplyAdd(ai, b1, c6_1); }
                { var ai = Vector512.Create(a[7]); c7_0 = Avx512F.FusedMultiplyAdd(ai, b0, c7_0); c7_1 = Avx512F.FusedMultiplyAdd(ai, b1, c7_1); }
                { var ai = Vector512.Create(a[8]); c8_0 = Avx512F.FusedMultiplyAdd(ai, b0, c8_0); c8_1 = Avx512F.FusedMultiplyAdd(ai, b1, c8_1); }
                { var ai = Vector512.Create(a[9]); c9_0 = Avx512F.FusedMultiplyAdd(ai, b0, c9_0); c9_1 = Avx512F.FusedMultiplyAdd(ai, b1, c9_1); }
                { var ai = Vector512.Create(a[10]); c10_0 = Avx512F.FusedMultiplyAdd(ai, b0, c10_0); c10_1 = Avx512F.FusedMultiplyAdd(ai, b1, c10_1); }
                { var ai = Vector512.Create(a[11]); c11_0 = Avx512F.FusedMultiplyAdd(ai, b0, c11_0); c11_1 = Avx512F.FusedMultiplyAdd(ai, b1, c11_1); }
                { var ai = Vector512.Create(a[12]); c12_0 = Avx512F.FusedMultiplyAdd(ai, b0, c12_0); c12_1 = Avx512F.FusedMultiplyAdd(ai, b1, c12_1); }
                { var ai = Vector512.Create(a[13]); c13_0 = Avx512F.FusedMultiplyAdd(ai, b0, c13_0); c13_1 = Avx512F.FusedMultiplyAdd(ai, b1, c13_1); }
            }
            {
                Vector512<float> b0 = Vector512.Load(b + 32);
                Vector512<float> b1 = Vector512.Load(b + 48);
                { var ai = Vector512.Create(a[14]); c0_0 = Avx512F.FusedMultiplyAdd(ai, b0, c0_0); c0_1 = Avx512F.FusedMultiplyAdd(ai, b1, c0_1); }
                { var ai = Vector512.Create(a[15]); c1_0 = Avx512F.FusedMultiplyAdd(ai, b0, c1_0); c1_1 = Avx512F.FusedMultiplyAdd(ai, b1, c1_1); }
                { var ai = Vector512.Create(a[16]); c2_0 = Avx512F.FusedMultiplyAdd(ai, b0, c2_0); c2_1 = Avx512F.FusedMultiplyAdd(ai, b1, c2_1); }
                { var ai = Vector512.Create(a[17]); c3_0 = Avx512F.FusedMultiplyAdd(ai, b0, c3_0); c3_1 = Avx512F.FusedMultiplyAdd(ai, b1, c3_1); }
                { var ai = Vector512.Create(a[18]); c4_0 = Avx512F.FusedMultiplyAdd(ai, b0, c4_0); c4_1 = Avx512F.FusedMultiplyAdd(ai, b1, c4_1); }
                { var ai = Vector512.Create(a[19]); c5_0 = Avx512F.FusedMultiplyAdd(ai, b0, c5_0); c5_1 = Avx512F.FusedMultiplyAdd(ai, b1, c5_1); }
                { var ai = Vector512.Create(a[20]); c6_0 = Avx512F.FusedMultiplyAdd(ai, b0, c6_0); c6_1 = Avx512F.FusedMultiplyAdd(ai, b1, c6_1); }
                { var ai = Vector512.Create(a[21]); c7_0 = Avx512F.FusedMultiplyAdd(ai, b0, c7_0); c7_1 = Avx512F.FusedMultiplyAdd(ai, b1, c7_1); }
                { var ai = Vector512.Create(a[22]); c8_0 = Avx512F.FusedMultiplyAdd(ai, b0, c8_0); c8_1 = Avx512F.FusedMultiplyAdd(ai, b1, c8_1); }
                { var ai = Vector512.Create(a[23]); c9_0 = Avx512F.FusedMultiplyAdd(ai, b0, c9_0); c9_1 = Avx512F.FusedMultiplyAdd(ai, b1, c9_1); }
                { var ai = Vector512.Create(a[24]); c10_0 = Avx512F.FusedMultiplyAdd(ai, b0, c10_0); c10_1 = Avx512F.FusedMultiplyAdd(ai, b1, c10_1); }
                { var ai = Vector512.Create(a[25]); c11_0 = Avx512F.FusedMultiplyAdd(ai, b0, c11_0); c11_1 = Avx512F.FusedMultiplyAdd(ai, b1, c11_1); }
                { var ai = Vector512.Create(a[26]); c12_0 = Avx512F.FusedMultiplyAdd(ai, b0, c12_0); c12_1 = Avx512F.FusedMultiplyAdd(ai, b1, c12_1); }
                { var ai = Vector512.Create(a[27]); c13_0 = Avx512F.FusedMultiplyAdd(ai, b0, c13_0); c13_1 = Avx512F.FusedMultiplyAdd(ai, b1, c13_1); }
            }
            {
                Vector512<float> b0 = Vector512.Load(b + 64);
                Vector512<float> b1 = Vector512.Load(b + 80);
                { var ai = Vector512.Create(a[28]); c0_0 = Avx512F.FusedMultiplyAdd(ai, b0, c0_0); c0_1 = Avx512F.FusedMultiplyAdd(ai, b1, c0_1); }
                { var ai = Vector512.Create(a[29]); c1_0 = Avx512F.FusedMultiplyAdd(ai, b0, c1_0); c1_1 = Avx512F.FusedMultiplyAdd(ai, b1, c1_1); }
                { var ai = Vector512.Create(a[30]); c2_0 = Avx512F.FusedMultiplyAdd(ai, b0, c2_0); c2_1 = Avx512F.FusedMultiplyAdd(ai, b1, c2_1); }
                { var ai = Vector512.Create(a[31]); c3_0 = Avx512F.FusedMultiplyAdd(ai, b0, c3_0); c3_1 = Avx512F.FusedMultiplyAdd(ai, b1, c3_1); }
                { var ai = Vector512.Create(a[32]); c4_0 = Avx512F.FusedMultiplyAdd(ai, b0, c4_0); c4_1 = Avx512F.FusedMultiplyAdd(ai, b1, c4_1); }
                { var ai = Vector512.Create(a[33]); c5_0 = Avx512F.FusedMultiplyAdd(ai, b0, c5_0); c5_1 = Avx512F.FusedMultiplyAdd(ai, b1, c5_1); }
                { var ai = Vector512.Create(a[34]); c6_0 = Avx512F.FusedMultiplyAdd(ai, b0, c6_0); c6_1 = Avx512F.FusedMultiplyAdd(ai, b1, c6_1); }
                { var ai = Vector512.Create(a[35]); c7_0 = Avx512F.FusedMultiplyAdd(ai, b0, c7_0); c7_1 = Avx512F.FusedMultiplyAdd(ai, b1, c7_1); }
                { var ai = Vector512.Create(a[36]); c8_0 = Avx512F.FusedMultiplyAdd(ai, b0, c8_0); c8_1 = Avx512F.FusedMultiplyAdd(ai, b1, c8_1); }
                { var ai = Vector512.Create(a[37]); c9_0 = Avx512F.FusedMultiplyAdd(ai, b0, c9_0); c9_1 = Avx512F.FusedMultiplyAdd(ai, b1, c9_1); }
                { var ai = Vector512.Create(a[38]); c10_0 = Avx512F.FusedMultiplyAdd(ai, b0, c10_0); c10_1 = Avx512F.FusedMultiplyAdd(ai, b1, c10_1); }
                { var ai = Vector512.Create(a[39]); c11_0 = Avx512F.FusedMultiplyAdd(ai, b0, c11_0); c11_1 = Avx512F.FusedMultiplyAdd(ai, b1, c11_1); }
                { var ai = Vector512.Create(a[40]); c12_0 = Avx512F.FusedMultiplyAdd(ai, b0, c12_0); c12_1 = Avx512F.FusedMultiplyAdd(ai, b1, c12_1); }
                { var ai = Vector512.Create(a[41]); c13_0 = Avx512F.FusedMultiplyAdd(ai, b0, c13_0); c13_1 = Avx512F.FusedMultiplyAdd(ai, b1, c13_1); }
            }
            {
                Vector512<float> b0 = Vector512.Load(b + 96);
                Vector512<float> b1 = Vector512.Load(b + 112);
                { var ai = Vector512.Create(a[42]); c0_0 = Avx512F.FusedMultiplyAdd(ai, b0, c0_0); c0_1 = Avx512F.FusedMultiplyAdd(ai, b1, c0_1); }
                { var ai = Vector512.Create(a[43]); c1_0 = Avx512F.FusedMultiplyAdd(ai, b0, c1_0); c1_1 = Avx512F.FusedMultiplyAdd(ai, b1, c1_1); }
                { var ai = Vector512.Create(a[44]); c2_0 = Avx512F.FusedMultiplyAdd(ai, b0, c2_0); c2_1 = Avx512F.FusedMultiplyAdd(ai, b1, c2_1); }
                { var ai = Vector512.Create(a[45]); c3_0 = Avx512F.FusedMultiplyAdd(ai, b0, c3_0); c3_1 = Avx512F.FusedMultiplyAdd(ai, b1, c3_1); }
                { var ai = Vector512.Create(a[46]); c4_0 = Avx512F.FusedMultiplyAdd(ai, b0, c4_0); c4_1 = Avx512F.FusedMultiplyAdd(ai, b1, c4_1); }
                { var ai = Vector512.Create(a[47]); c5_0 = Avx512F.FusedMultiplyAdd(ai, b0, c5_0); c5_1 = Avx512F.FusedMultiplyAdd(ai, b1, c5_1); }
                { var ai = Vector512.Create(a[48]); c6_0 = Avx512F.FusedMultiplyAdd(ai, b0, c6_0); c6_1 = Avx512F.FusedMultiplyAdd(ai, b1, c6_1); }
                { var ai = Vector512.Create(a[49]); c7_0 = Avx512F.FusedMultiplyAdd(ai, b0, c7_0); c7_1 = Avx512F.FusedMultiplyAdd(ai, b1, c7_1); }
                { var ai = Vector512.Create(a[50]); c8_0 = Avx512F.FusedMultiplyAdd(ai, b0, c8_0); c8_1 = Avx512F.FusedMultiplyAdd(ai, b1, c8_1); }
                { var ai = Vector512.Create(a[51]); c9_0 = Avx512F.FusedMultiplyAdd(ai, b0, c9_0); c9_1 = Avx512F.FusedMultiplyAdd(ai, b1, c9_1); }
                { var ai = Vector512.Create(a[52]); c10_0 = Avx512F.FusedMultiplyAdd(ai, b0, c10_0); c10_1 = Avx512F.FusedMultiplyAdd(ai, b1, c10_1); }
                { var ai = Vector512.Create(a[53]); c11_0 = Avx512F.FusedMultiplyAdd(ai, b0, c11_0); c11_1 = Avx512F.FusedMultiplyAdd(ai, b1, c11_1); }
                { var ai = Vector512.Create(a[54]); c12_0 = Avx512F.FusedMultiplyAdd(ai, b0, c12_0); c12_1 = Avx512F.FusedMultiplyAdd(ai, b1, c12_1); }
                { var ai = Vector512.Create(a[55]); c13_0 = Avx512F.FusedMultiplyAdd(ai, b0, c13_0); c13_1 = Avx512F.FusedMultiplyAdd(ai, b1, c13_1); }
            }
            a += 56; b += 128;
        }
        for (; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b + 0);
            Vector512<float> b1 = Vector512.Load(b + 16);
            { var ai = Vector512.Create(a[0]); c0_0 = Avx512F.FusedMultiplyAdd(ai, b0, c0_0); c0_1 = Avx512F.FusedMultiplyAdd(ai, b1, c0_1); }
            { var ai = Vector512.Create(a[1]); c1_0 = Avx512F.FusedMultiplyAdd(ai, b0, c1_0); c1_1 = Avx512F.FusedMultiplyAdd(ai, b1, c1_1); }
            { var ai = Vector512.Create(a[2]); c2_0 = Avx512F.FusedMultiplyAdd(ai, b0, c2_0); c2_1 = Avx512F.FusedMultiplyAdd(ai, b1, c2_1); }
            { var ai = Vector512.Create(a[3]); c3_0 = Avx512F.FusedMultiplyAdd(ai, b0, c3_0); c3_1 = Avx512F.FusedMultiplyAdd(ai, b1, c3_1); }
            { var ai = Vector512.Create(a[4]); c4_0 = Avx512F.FusedMultiplyAdd(ai, b0, c4_0); c4_1 = Avx512F.FusedMultiplyAdd(ai, b1, c4_1); }
            { var ai = Vector512.Create(a[5]); c5_0 = Avx512F.FusedMultiplyAdd(ai, b0, c5_0); c5_1 = Avx512F.FusedMultiplyAdd(ai, b1, c5_1); }
            { var ai = Vector512.Create(a[6]); c6_0 = Avx512F.FusedMultiplyAdd(ai, b0, c6_0); c6_1 = Avx512F.FusedMultiplyAdd(ai, b1, c6_1); }
            { var ai = Vector512.Create(a[7]); c7_0 = Avx512F.FusedMultiplyAdd(ai, b0, c7_0); c7_1 = Avx512F.FusedMultiplyAdd(ai, b1, c7_1); }
            { var ai = Vector512.Create(a[8]); c8_0 = Avx512F.FusedMultiplyAdd(ai, b0, c8_0); c8_1 = Avx512F.FusedMultiplyAdd(ai, b1, c8_1); }
            { var ai = Vector512.Create(a[9]); c9_0 = Avx512F.FusedMultiplyAdd(ai, b0, c9_0); c9_1 = Avx512F.FusedMultiplyAdd(ai, b1, c9_1); }
            { var ai = Vector512.Create(a[10]); c10_0 = Avx512F.FusedMultiplyAdd(ai, b0, c10_0); c10_1 = Avx512F.FusedMultiplyAdd(ai, b1, c10_1); }
            { var ai = Vector512.Create(a[11]); c11_0 = Avx512F.FusedMultiplyAdd(ai, b0, c11_0); c11_1 = Avx512F.FusedMultiplyAdd(ai, b1, c11_1); }
            { var ai = Vector512.Create(a[12]); c12_0 = Avx512F.FusedMultiplyAdd(ai, b0, c12_0); c12_1 = Avx512F.FusedMultiplyAdd(ai, b1, c12_1); }
            { var ai = Vector512.Create(a[13]); c13_0 = Avx512F.FusedMultiplyAdd(ai, b0, c13_0); c13_1 = Avx512F.FusedMultiplyAdd(ai, b1, c13_1); }
            a += 14; b += 32;
        }
        var va = Vector512.Create(alpha);
        if (beta == 0f)
        {
            Vector512.Store(c0_0 * va, c + 0 * ldc + 0); Vector512.Store(c0_1 * va, c + 0 * ldc + 16);
            Vector512.Store(c1_0 * va, c + 1 * ldc + 0); Vector512.Store(c1_1 * va, c + 1 * ldc + 16);
            Vector512.Store(c2_0 * va, c + 2 * ldc + 0); Vector512.Store(c2_1 * va, c + 2 * ldc + 16);
            Vector512.Store(c3_0 * va, c + 3 * ldc + 0); Vector512.Store(c3_1 * va, c + 3 * ldc + 16);
            Vector512.Store(c4_0 * va, c + 4 * ldc + 0); Vector512.Store(c4_1 * va, c + 4 * ldc + 16);
            Vector512.Store(c5_0 * va, c + 5 * ldc + 0); Vector512.Store(c5_1 * va, c + 5 * ldc + 16);
            Vector512.Store(c6_0 * va, c + 6 * ldc + 0); Vector512.Store(c6_1 * va, c + 6 * ldc + 16);
            Vector512.Store(c7_0 * va, c + 7 * ldc + 0); Vector512.Store(c7_1 * va, c + 7 * ldc + 16);
            Vector512.Store(c8_0 * va, c + 8 * ldc + 0); Vector512.Store(c8_1 * va, c + 8 * ldc + 16);
            Vector512.Store(c9_0 * va, c + 9 * ldc + 0); Vector512.Store(c9_1 * va, c + 9 * ldc + 16);
            Vector512.Store(c10_0 * va, c + 10 * ldc + 0); Vector512.Store(c10_1 * va, c + 10 * ldc + 16);
            Vector512.Store(c11_0 * va, c + 11 * ldc + 0); Vector512.Store(c11_1 * va, c + 11 * ldc + 16);
            Vector512.Store(c12_0 * va, c + 12 * ldc + 0); Vector512.Store(c12_1 * va, c + 12 * ldc + 16);
            Vector512.Store(c13_0 * va, c + 13 * ldc + 0); Vector512.Store(c13_1 * va, c + 13 * ldc + 16);
        }
        else if (beta == 1f)
        {
            { float* r = c + 0 * ldc + 0; Vector512.Store(Avx512F.FusedMultiplyAdd(c0_0, va, Vector512.Load(r)), r); } { float* r = c + 0 * ldc + 16; Vector512.Store(Avx512F.FusedMultiplyAdd(c0_1, va, Vector512.Load(r)), r); }
            { float* r = c + 1 * ldc + 0; Vector512.Store(Avx512F.FusedMultiplyAdd(c1_0, va, Vector512.Load(r)), r); } { float* r = c + 1 * ldc + 16; Vector512.Store(Avx512F.FusedMultiplyAdd(c1_1, va, Vector512.Load(r)), r); }
            { float* r = c + 2 * ldc + 0; Vector512.Store(Avx512F.FusedMultiplyAdd(c2_0, va, Vector512.Load(r)), r); } { float* r = c + 2 * ldc + 16; Vector512.Store(Avx512F.FusedMultiplyAdd(c2_1, va, Vector512.Load(r)), r); }
            { float* r = c + 3 * ldc + 0; Vector512.Store(Avx512F.FusedMultiplyAdd(c3_0, va, Vector512.Load(r)), r); } { float* r = c + 3 * ldc + 16; Vector512.Store(Avx512F.FusedMultiplyAdd(c3_1, va, Vector512.Load(r)), r); }
            { float* r = c + 4 * ldc + 0; Vector512.Store(Avx512F.FusedMultiplyAdd(c4_0, va, Vector512.Load(r)), r); } { float* r = c + 4 * ldc + 16; Vector512.Store(Avx512F.FusedMultiplyAdd(c4_1, va, Vector512.Load(r)), r); }
            { float* r = c + 5 * ldc + 0; Vector512.Store(Avx512F.FusedMultiplyAdd(c5_0, va, Vector512.Load(r)), r); } { float* r = c + 5 * ldc + 16; Vector512.Store(Avx512F.FusedMultiplyAdd(c5_1, va, Vector512.Load(r)), r); }
            { float* r = c + 6 * ldc + 0; Vector512.Store(Avx512F.FusedMultiplyAdd(c6_0, va, Vector512.Load(r)), r); } { float* r = c + 6 * ldc + 16; Vector512.Store(Avx512F.FusedMultiplyAdd(c6_1, va, Vector512.Load(r)), r); }
            { float* r = c + 7 * ldc + 0; Vector512.Store(Avx512F.FusedMultiplyAdd(c7_0, va, Vector512.Load(r)), r); } { float* r = c + 7 * ldc + 16; Vector512.Store(Avx512F.FusedMultiplyAdd(c7_1, va, Vector512.Load(r)), r); }
            { float* r = c + 8 * ldc + 0; Vector512.Store(Avx512F.FusedMultiplyAdd(c8_0, va, Vector512.Load(r)), r); } { float* r = c + 8 * ldc + 16; Vector512.Store(Avx512F.FusedMultiplyAdd(c8_1, va, Vector512.Load(r)), r); }
            { float* r = c + 9 * ldc + 0; Vector512.Store(Avx512F.FusedMultiplyAdd(c9_0, va, Vector512.Load(r)), r); } { float* r = c + 9 * ldc + 16; Vector512.Store(Avx512F.FusedMultiplyAdd(c9_1, va, Vector512.Load(r)), r); }
            { float* r = c + 10 * ldc + 0; Vector512.Store(Avx512F.FusedMultiplyAdd(c10_0, va, Vector512.Load(r)), r); } { float* r = c + 10 * ldc + 16; Vector512.Store(Avx512F.FusedMultiplyAdd(c10_1, va, Vector512.Load(r)), r); }
            { float* r = c + 11 * ldc + 0; Vector512.Store(Avx512F.FusedMultiplyAdd(c11_0, va, Vector512.Load(r)), r); } { float* r = c + 11 * ldc + 16; Vector512.Store(Avx512F.FusedMultiplyAdd(c11_1, va, Vector512.Load(r)), r); }
            { float* r = c + 12 * ldc + 0; Vector512.Store(Avx512F.FusedMultiplyAdd(c12_0, va, Vector512.Load(r)), r); } { float* r = c + 12 * ldc + 16; Vector512.Store(Avx512F.FusedMultiplyAdd(c12_1, va, Vector512.Load(r)), r); }
            { float* r = c + 13 * ldc + 0; Vector512.Store(Avx512F.FusedMultiplyAdd(c13_0, va, Vector512.Load(r)), r); } { float* r = c + 13 * ldc + 16; Vector512.Store(Avx512F.FusedMultiplyAdd(c13_1, va, Vector512.Load(r)), r); }
        }
        else
        {
            var vb = Vector512.Create(beta);
            { float* r = c + 0 * ldc + 0; Vector512.Store(Avx512F.FusedMultiplyAdd(c0_0, va, Vector512.Load(r) * vb), r); } { float* r = c + 0 * ldc + 16; Vector512.Store(Avx512F.FusedMultiplyAdd(c0_1, va, Vector512.Load(r) * vb), r); }
            { float* r = c + 1 * ldc + 0; Vector512.Store(Avx512F.FusedMultiplyAdd(c1_0, va, Vector512.Load(r) * vb), r); } { float* r = c + 1 * ldc + 16; Vector512.Store(Avx512F.FusedMultiplyAdd(c1_1, va, Vector512.Load(r) * vb), r); }
            { float* r = c + 2 * ldc + 0; Vector512.Store(Avx512F.FusedMultiplyAdd(c2_0, va, Vector512.Load(r) * vb), r); } { float* r = c + 2 * ldc + 16; Vector512.Store(Avx512F.FusedMultiplyAdd(c2_1, va, Vector512.Load(r) * vb), r); }
            { float* r = c + 3 * ldc + 0; Vector512.Store(Avx512F.FusedMultiplyAdd(c3_0, va, Vector512.Load(r) * vb), r); } { float* r = c + 3 * ldc + 16; Vector512.Store(Avx512F.FusedMultiplyAdd(c3_1, va, Vector512.Load(r) * vb), r); }
            { float* r = c + 4 * ldc + 0; Vector512.Store(Avx512F.FusedMultiplyAdd(c4_0, va, Vector512.Load(r) * vb), r); } { float* r = c + 4 * ldc + 16; Vector512.Store(Avx512F.FusedMultiplyAdd(c4_1, va, Vector512.Load(r) * vb), r); }
            { float* r = c + 5 * ldc + 0; Vector512.Store(Avx512F.FusedMultiplyAdd(c5_0, va, Vector512.Load(r) * vb), r); } { float* r = c + 5 * ldc + 16; Vector512.Store(Avx512F.FusedMultiplyAdd(c5_1, va, Vector512.Load(r) * vb), r); }
            { float* r = c + 6 * ldc + 0; Vector512.Store(Avx512F.FusedMultiplyAdd(c6_0, va, Vector512.Load(r) * vb), r); } { float* r = c + 6 * ldc + 16; Vector512.Store(Avx512F.FusedMultiplyAdd(c6_1, va, Vector512.Load(r) * vb), r); }
            { float* r = c + 7 * ldc + 0; Vector512.Store(Avx512F.FusedMultiplyAdd(c7_0, va, Vector512.Load(r) * vb), r); } { float* r = c + 7 * ldc + 16; Vector512.Store(Avx512F.FusedMultiplyAdd(c7_1, va, Vector512.Load(r) * vb), r); }
            { float* r = c + 8 * ldc + 0; Vector512.Store(Avx512F.FusedMultiplyAdd(c8_0, va, Vector512.Load(r) * vb), r); } { float* r = c + 8 * ldc + 16; Vector512.Store(Avx512F.FusedMultiplyAdd(c8_1, va, Vector512.Load(r) * vb), r); }
            { float* r = c + 9 * ldc + 0; Vector512.Store(Avx512F.FusedMultiplyAdd(c9_0, va, Vector512.Load(r) * vb), r); } { float* r = c + 9 * ldc + 16; Vector512.Store(Avx512F.FusedMultiplyAdd(c9_1, va, Vector512.Load(r) * vb), r); }
            { float* r = c + 10 * ldc + 0; Vector512.Store(Avx512F.FusedMultiplyAdd(c10_0, va, Vector512.Load(r) * vb), r); } { float* r = c + 10 * ldc + 16; Vector512.Store(Avx512F.FusedMultiplyAdd(c10_1, va, Vector512.Load(r) * vb), r); }
            { float* r = c + 11 * ldc + 0; Vector512.Store(Avx512F.FusedMultiplyAdd(c11_0, va, Vector512.Load(r) * vb), r); } { float* r = c + 11 * ldc + 16; Vector512.Store(Avx512F.FusedMultiplyAdd(c11_1, va, Vector512.Load(r) * vb), r); }
            { float* r = c + 12 * ldc + 0; Vector512.Store(Avx512F.FusedMultiplyAdd(c12_0, va, Vector512.Load(r) * vb), r); } { float* r = c + 12 * ldc + 16; Vector512.Store(Avx512F.FusedMultiplyAdd(c12_1, va, Vector512.Load(r) * vb), r); }
            { float* r = c + 13 * ldc + 0; Vector512.Store(Avx512F.FusedMultiplyAdd(c13_0, va, Vector512.Load(r) * vb), r); } { float* r = c + 13 * ldc + 16; Vector512.Store(Avx512F.FusedMultiplyAdd(c13_1, va, Vector512.Load(r) * vb), r); }
        }
    }

    /// <summary>6×16 tile: C[0..6, 0..16] = alpha·Σp a[p·6+i]·b[p·16+j] + beta·C; beta == 0 never reads C.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Avx2Kernel(int kc, float* a, float* b, float* c, long ldc, float alpha, float beta)
    {
        Vector256<float> c0_0 = default; Vector256<float> c0_1 = default;
        Vector256<float> c1_0 = default; Vector256<float> c1_1 = default;
        Vector256<float> c2_0 = default; Vector256<float> c2_1 = default;
        Vector256<float> c3_0 = default; Vector256<float> c3_1 = default;
        Vector256<float> c4_0 = default; Vector256<float> c4_1 = default;
        Vector256<float> c5_0 = default; Vector256<float> c5_1 = default;
        int p = 0;
        for (; p + 4 <= kc; p += 4)
        {
            {
                Vector256<float> b0 = Vector256.Load(b + 0);
                Vector256<float> b1 = Vector256.Load(b + 8);
                { var ai = Vector256.Create(a[0]); c0_0 = Fma.MultiplyAdd(ai, b0, c0_0); c0_1 = Fma.MultiplyAdd(ai, b1, c0_1); }
                { var ai = Vector256.Create(a[1]); c1_0 = Fma.MultiplyAdd(ai, b0, c1_0); c1_1 = Fma.MultiplyAdd(ai, b1, c1_1); }
                { var ai = Vector256.Create(a[2]); c2_0 = Fma.MultiplyAdd(ai, b0, c2_0); c2_1 = Fma.MultiplyAdd(ai, b1, c2_1); }
                { var ai = Vector256.Create(a[3]); c3_0 = Fma.MultiplyAdd(ai, b0, c3_0); c3_1 = Fma.MultiplyAdd(ai, b1, c3_1); }
                { var ai = Vector256.Create(a[4]); c4_0 = Fma.MultiplyAdd(ai, b0, c4_0); c4_1 = Fma.MultiplyAdd(ai, b1, c4_1); }
                { var ai = Vector256.Create(a[5]); c5_0 = Fma.MultiplyAdd(ai, b0, c5_0); c5_1 = Fma.MultiplyAdd(ai, b1, c5_1); }
            }
            {
                Vector256<float> b0 = Vector256.Load(b + 16);
                Vector256<float> b1 = Vector256.Load(b + 24);
                { var ai = Vector256.Create(a[6]); c0_0 = Fma.MultiplyAdd(ai, b0, c0_0); c0_1 = Fma.MultiplyAdd(ai, b1, c0_1); }
                { var ai = Vector256.Create(a[7]); c1_0 = Fma.MultiplyAdd(ai, b0, c1_0); c1_1 = Fma.MultiplyAdd(ai, b1, c1_1); }
                { var ai = Vector256.Create(a[8]); c2_0 = Fma.MultiplyAdd(ai, b0, c2_0); c2_1 = Fma.MultiplyAdd(ai, b1, c2_1); }
                { var ai = Vector256.Create(a[9]); c3_0 = Fma.MultiplyAdd(ai, b0, c3_0); c3_1 = Fma.MultiplyAdd(ai, b1, c3_1); }
                { var ai = Vector256.Create(a[10]); c4_0 = Fma.MultiplyAdd(ai, b0, c4_0); c4_1 = Fma.MultiplyAdd(ai, b1, c4_1); }
                { var ai = Vector256.Create(a[11]); c5_0 = Fma.MultiplyAdd(ai, b0, c5_0); c5_1 = Fma.MultiplyAdd(ai, b1, c5_1); }
            }
            {
                Vector256<float> b0 = Vector256.Load(b + 32);
                Vector256<float> b1 = Vector256.Load(b + 40);
                { var ai = Vector256.Create(a[12]); c0_0 = Fma.MultiplyAdd(ai, b0, c0_0); c0_1 = Fma.MultiplyAdd(ai, b1, c0_1); }
                { var ai = Vector256.Create(a[13]); c1_0 = Fma.MultiplyAdd(ai, b0, c1_0); c1_1 = Fma.MultiplyAdd(ai, b1, c1_1); }
                { var ai = Vector256.Create(a[14]); c2_0 = Fma.MultiplyAdd(ai, b0, c2_0); c2_1 = Fma.MultiplyAdd(ai, b1, c2_1); }
                { var ai = Vector256.Create(a[15]); c3_0 = Fma.MultiplyAdd(ai, b0, c3_0); c3_1 = Fma.MultiplyAdd(ai, b1, c3_1); }
                { var ai = Vector256.Create(a[16]); c4_0 = Fma.MultiplyAdd(ai, b0, c4_0); c4_1 = Fma.MultiplyAdd(ai, b1, c4_1); }
                { var ai = Vector256.Create(a[17]); c5_0 = Fma.MultiplyAdd(ai, b0, c5_0); c5_1 = Fma.MultiplyAdd(ai, b1, c5_1); }
            }
            {
                Vector256<float> b0 = Vector256.Load(b + 48);
                Vector256<float> b1 = Vector256.Load(b + 56);
                { var ai = Vector256.Create(a[18]); c0_0 = Fma.MultiplyAdd(ai, b0, c0_0); c0_1 = Fma.MultiplyAdd(ai, b1, c0_1); }
                { var ai = Vector256.Create(a[19]); c1_0 = Fma.MultiplyAdd(ai, b0, c1_0); c1_1 = Fma.MultiplyAdd(ai, b1, c1_1); }
                { var ai = Vector256.Create(a[20]); c2_0 = Fma.MultiplyAdd(ai, b0, c2_0); c2_1 = Fma.MultiplyAdd(ai, b1, c2_1); }
                { var ai = Vector256.Create(a[21]); c3_0 = Fma.MultiplyAdd(ai, b0, c3_0); c3_1 = Fma.MultiplyAdd(ai, b1, c3_1); }
                { var ai = Vector256.Create(a[22]); c4_0 = Fma.MultiplyAdd(ai, b0, c4_0); c4_1 = Fma.MultiplyAdd(ai, b1, c4_1); }
                { var ai = Vector256.Create(a[23]); c5_0 = Fma.MultiplyAdd(ai, b0, c5_0); c5_1 = Fma.MultiplyAdd(ai, b1, c5_1); }
            }
            a += 24; b += 64;
        }
        for (; p < kc; p++)
        {
            Vector256<float> b0 = Vector256.Load(b + 0);
            Vector256<float> b1 = Vector256.Load(b + 8);
            { var ai = Vector256.Create(a[0]); c0_0 = Fma.MultiplyAdd(ai, b0, c0_0); c0_1 = Fma.MultiplyAdd(ai, b1, c0_1); }
            { var ai = Vector256.Create(a[1]); c1_0 = Fma.MultiplyAdd(ai, b0, c1_0); c1_1 = Fma.MultiplyAdd(ai, b1, c1_1); }
            { var ai = Vector256.Create(a[2]); c2_0 = Fma.MultiplyAdd(ai, b0, c2_0); c2_1 = Fma.MultiplyAdd(ai, b1, c2_1); }
            { var ai = Vector256.Create(a[3]); c3_0 = Fma.MultiplyAdd(ai, b0, c3_0); c3_1 = Fma.MultiplyAdd(ai, b1, c3_1); }
            { var ai = Vector256.Create(a[4]); c4_0 = Fma.MultiplyAdd(ai, b0, c4_0); c4_1 = Fma.MultiplyAdd(ai, b1, c4_1); }
            { var ai = Vector256.Create(a[5]); c5_0 = Fma.MultiplyAdd(ai, b0, c5_0); c5_1 = Fma.MultiplyAdd(ai, b1, c5_1); }
            a += 6; b += 16;
        }
        var va = Vector256.Create(alpha);
        if (beta == 0f)
        {
            Vector256.Store(c0_0 * va, c + 0 * ldc + 0); Vector256.Store(c0_1 * va, c + 0 * ldc + 8);
            Vector256.Store(c1_0 * va, c + 1 * ldc + 0); Vector256.Store(c1_1 * va, c + 1 * ldc + 8);
            Vector256.Store(c2_0 * va, c + 2 * ldc + 0); Vector256.Store(c2_1 * va, c + 2 * ldc + 8);
            Vector256.Store(c3_0 * va, c + 3 * ldc + 0); Vector256.Store(c3_1 * va, c + 3 * ldc + 8);
            Vector256.Store(c4_0 * va, c + 4 * ldc + 0); Vector256.Store(c4_1 * va, c + 4 * ldc + 8);
            Vector256.Store(c5_0 * va, c + 5 * ldc + 0); Vector256.Store(c5_1 * va, c + 5 * ldc + 8);
        }
        else if (beta == 1f)
        {
            { float* r = c + 0 * ldc + 0; Vector256.Store(Fma.MultiplyAdd(c0_0, va, Vector256.Load(r)), r); } { float* r = c + 0 * ldc + 8; Vector256.Store(Fma.MultiplyAdd(c0_1, va, Vector256.Load(r)), r); }
            { float* r = c + 1 * ldc + 0; Vector256.Store(Fma.MultiplyAdd(c1_0, va, Vector256.Load(r)), r); } { float* r = c + 1 * ldc + 8; Vector256.Store(Fma.MultiplyAdd(c1_1, va, Vector256.Load(r)), r); }
            { float* r = c + 2 * ldc + 0; Vector256.Store(Fma.MultiplyAdd(c2_0, va, Vector256.Load(r)), r); } { float* r = c + 2 * ldc + 8; Vector256.Store(Fma.MultiplyAdd(c2_1, va, Vector256.Load(r)), r); }
            { float* r = c + 3 * ldc + 0; Vector256.Store(Fma.MultiplyAdd(c3_0, va, Vector256.Load(r)), r); } { float* r = c + 3 * ldc + 8; Vector256.Store(Fma.MultiplyAdd(c3_1, va, Vector256.Load(r)), r); }
            { float* r = c + 4 * ldc + 0; Vector256.Store(Fma.MultiplyAdd(c4_0, va, Vector256.Load(r)), r); } { float* r = c + 4 * ldc + 8; Vector256.Store(Fma.MultiplyAdd(c4_1, va, Vector256.Load(r)), r); }
            { float* r = c + 5 * ldc + 0; Vector256.Store(Fma.MultiplyAdd(c5_0, va, Vector256.Load(r)), r); } { float* r = c + 5 * ldc + 8; Vector256.Store(Fma.MultiplyAdd(c5_1, va, Vector256.Load(r)), r); }
        }
        else
        {
            var vb = Vector256.Create(beta);
            { float* r = c + 0 * ldc + 0; Vector256.Store(Fma.MultiplyAdd(c0_0, va, Vector256.Load(r) * vb), r); } { float* r = c + 0 * ldc + 8; Vector256.Store(Fma.MultiplyAdd(c0_1, va, Vector256.Load(r) * vb), r); }
            { float* r = c + 1 * ldc + 0; Vector256.Store(Fma.MultiplyAdd(c1_0, va, Vector256.Load(r) * vb), r); } { float* r = c + 1 * ldc + 8; Vector256.Store(Fma.MultiplyAdd(c1_1, va, Vector256.Load(r) * vb), r); }
            { float* r = c + 2 * ldc + 0; Vector256.Store(Fma.MultiplyAdd(c2_0, va, Vector256.Load(r) * vb), r); } { float* r = c + 2 * ldc + 8; Vector256.Store(Fma.MultiplyAdd(c2_1, va, Vector256.Load(r) * vb), r); }
            { float* r = c + 3 * ldc + 0; Vector256.Store(Fma.MultiplyAdd(c3_0, va, Vector256.Load(r) * vb), r); } { float* r = c + 3 * ldc + 8; Vector256.Store(Fma.MultiplyAdd(c3_1, va, Vector256.Load(r) * vb), r); }
            { float* r = c + 4 * ldc + 0; Vector256.Store(Fma.MultiplyAdd(c4_0, va, Vector256.Load(r) * vb), r); } { float* r = c + 4 * ldc + 8; Vector256.Store(Fma.MultiplyAdd(c4_1, va, Vector256.Load(r) * vb), r); }
            { float* r = c + 5 * ldc + 0; Vector256.Store(Fma.MultiplyAdd(c5_0, va, Vector256.Load(r) * vb), r); } { float* r = c + 5 * ldc + 8; Vector256.Store(Fma.MultiplyAdd(c5_1, va, Vector256.Load(r) * vb), r); }
        }
    }

    /// <summary>Portable 4×8 tile for machines without AVX2/FMA; same contract as the vector kernels.</summary>
    public static void PortableKernel(int kc, float* a, float* b, float* c, long ldc, float alpha, float beta)
    {
        Vector128<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector128<float> c20 = default, c21 = default, c30 = default, c31 = default;
        for (int p = 0; p < kc; p++, a += 4, b += 8)
        {
            Vector128<float> b0 = Vector128.Load(b), b1 = Vector128.Load(b + 4);
            var a0 = Vector128.Create(a[0]); c00 += a0 * b0; c01 += a0 * b1;
            var a1 = Vector128.Create(a[1]); c10 += a1 * b0; c11 += a1 * b1;
            var a2 = Vector128.Create(a[2]); c20 += a2 * b0; c21 += a2 * b1;
            var a3 = Vector128.Create(a[3]); c30 += a3 * b0; c31 += a3 * b1;
        }
        PortableStore(c, alpha, beta, c00, c01);
        PortableStore(c + ldc, alpha, beta, c10, c11);
        PortableStore(c + 2 * ldc, alpha, beta, c20, c21);
        PortableStore(c + 3 * ldc, alpha, beta, c30, c31);
    }

    private static void PortableStore(float* r, float alpha, float beta, Vector128<float> v0, Vector128<float> v1)
    {
        var va = Vector128.Create(alpha);
        if (beta == 0f)
        {
            Vector128.Store(v0 * va, r);
            Vector128.Store(v1 * va, r + 4);
        }
        else
        {
            var vb = Vector128.Create(beta);
            Vector128.Store(v0 * va + Vector128.Load(r) * vb, r);
            Vector128.Store(v1 * va + Vector128.Load(r + 4) * vb, r + 4);
        }
    }
}
