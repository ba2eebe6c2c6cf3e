using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Finetune.Kernels.Cpu;

/// <summary>
/// The register-blocked micro-kernel of the CPU LoRA kernels (v3): a tile of up to 6 rows × 16 columns,
/// C(r, c) = Σₖ A(r, k)·B[k, c] with A(r, k) = a[r·ars + k·aks] broadcast and B's row k at b + k·ldb, kept in twelve
/// accumulators for the whole k loop and handed to an epilogue (store, add, masked add) that the JIT specialises. The
/// strides let one kernel serve every LoRA product: drop(x)·Aᵀ and g·B (k = features), u·Bᵀ and gu·A (k = rank), and the
/// row reductions gA, gB (A read transposed, k = rows). Six rows × two vectors is the AVX2 GEMM's 6×16 shape: 2 loads
/// and 6 broadcasts per 12 FMAs, 15 of 16 ymm registers.
/// </summary>
internal static unsafe class LoraTile
{
    public const int Rows = 6;

    /// <summary>Where a finished tile row goes: 16 columns, 8 columns, or one column of the scalar tail.</summary>
    public interface IEpilogue
    {
        void Row16(int row, int col, Vector256<float> v0, Vector256<float> v1);

        void Row8(int row, int col, Vector256<float> v);

        void One(int row, int col, float v);
    }

    /// <summary>C tiles over n columns (16 at a time, then 8, then one by one) for rows [0, mr), mr ≤ 6.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<TE>(int mr, int n, int k, float* a, long ars, long aks, float* b, long ldb, ref TE epi)
        where TE : struct, IEpilogue
    {
        int c = 0;
        for (; c + 16 <= n; c += 16) Tile16(mr, k, a, ars, aks, b + c, ldb, c, ref epi);
        for (; c + 8 <= n; c += 8) Tile8(mr, k, a, ars, aks, b + c, ldb, c, ref epi);
        for (; c < n; c++)
            for (int r = 0; r < mr; r++)
            {
                float s = 0f;
                float* ar = a + r * ars;
                for (int kk = 0; kk < k; kk++) s += ar[kk * aks] * b[kk * ldb + c];
                epi.One(r, c, s);
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile16<TE>(int mr, int k, float* a, long ars, long aks, float* b, long ldb, int col, ref TE epi)
        where TE : struct, IEpilogue
    {
        // Rows past mr read row 0 again (never stored), so the loop has no branches.
        float* a0 = a, a1 = a + (mr > 1 ? ars : 0), a2 = a + (mr > 2 ? 2 * ars : 0);
        float* a3 = a + (mr > 3 ? 3 * ars : 0), a4 = a + (mr > 4 ? 4 * ars : 0), a5 = a + (mr > 5 ? 5 * ars : 0);
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (long kk = 0, ka = 0; kk < k; kk++, ka += aks, b += ldb)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var x = Vector256.Create(a0[ka]);
            c00 = Vector256.FusedMultiplyAdd(x, b0, c00);
            c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a1[ka]);
            c10 = Vector256.FusedMultiplyAdd(x, b0, c10);
            c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a2[ka]);
            c20 = Vector256.FusedMultiplyAdd(x, b0, c20);
            c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a3[ka]);
            c30 = Vector256.FusedMultiplyAdd(x, b0, c30);
            c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(a4[ka]);
            c40 = Vector256.FusedMultiplyAdd(x, b0, c40);
            c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(a5[ka]);
            c50 = Vector256.FusedMultiplyAdd(x, b0, c50);
            c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
        }
        epi.Row16(0, col, c00, c01);
        if (mr > 1) epi.Row16(1, col, c10, c11);
        if (mr > 2) epi.Row16(2, col, c20, c21);
        if (mr > 3) epi.Row16(3, col, c30, c31);
        if (mr > 4) epi.Row16(4, col, c40, c41);
        if (mr > 5) epi.Row16(5, col, c50, c51);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile8<TE>(int mr, int k, float* a, long ars, long aks, float* b, long ldb, int col, ref TE epi)
        where TE : struct, IEpilogue
    {
        float* a0 = a, a1 = a + (mr > 1 ? ars : 0), a2 = a + (mr > 2 ? 2 * ars : 0);
        float* a3 = a + (mr > 3 ? 3 * ars : 0), a4 = a + (mr > 4 ? 4 * ars : 0), a5 = a + (mr > 5 ? 5 * ars : 0);
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
        for (long kk = 0, ka = 0; kk < k; kk++, ka += aks, b += ldb)
        {
            var b0 = Vector256.Load(b);
            c0 = Vector256.FusedMultiplyAdd(Vector256.Create(a0[ka]), b0, c0);
            c1 = Vector256.FusedMultiplyAdd(Vector256.Create(a1[ka]), b0, c1);
            c2 = Vector256.FusedMultiplyAdd(Vector256.Create(a2[ka]), b0, c2);
            c3 = Vector256.FusedMultiplyAdd(Vector256.Create(a3[ka]), b0, c3);
            c4 = Vector256.FusedMultiplyAdd(Vector256.Create(a4[ka]), b0, c4);
            c5 = Vector256.FusedMultiplyAdd(Vector256.Create(a5[ka]), b0, c5);
        }
        epi.Row8(0, col, c0);
        if (mr > 1) epi.Row8(1, col, c1);
        if (mr > 2) epi.Row8(2, col, c2);
        if (mr > 3) epi.Row8(3, col, c3);
        if (mr > 4) epi.Row8(4, col, c4);
        if (mr > 5) epi.Row8(5, col, c5);
    }

    /// <summary>dst[r, c] = scale·C(r, c).</summary>
    public struct Store(float* dst, long ld, float scale) : IEpilogue
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Row16(int row, int col, Vector256<float> v0, Vector256<float> v1)
        {
            float* d = dst + row * ld + col;
            var s = Vector256.Create(scale);
            (v0 * s).Store(d);
            (v1 * s).Store(d + 8);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Row8(int row, int col, Vector256<float> v) => (v * Vector256.Create(scale)).Store(dst + row * ld + col);

        public readonly void One(int row, int col, float v) => dst[row * ld + col] = scale * v;
    }

    /// <summary>dst[r, c] += C(r, c), or += mask[r, c]·C(r, c) when a mask is given (mask rows ld apart, like dst's).</summary>
    public struct Add(float* dst, long ld, float* mask) : IEpilogue
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Row16(int row, int col, Vector256<float> v0, Vector256<float> v1)
        {
            long at = row * ld + col;
            if (mask is not null)
            {
                v0 *= Vector256.Load(mask + at);
                v1 *= Vector256.Load(mask + at + 8);
            }
            (Vector256.Load(dst + at) + v0).Store(dst + at);
            (Vector256.Load(dst + at + 8) + v1).Store(dst + at + 8);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Row8(int row, int col, Vector256<float> v)
        {
            long at = row * ld + col;
            if (mask is not null) v *= Vector256.Load(mask + at);
            (Vector256.Load(dst + at) + v).Store(dst + at);
        }

        public readonly void One(int row, int col, float v)
        {
            long at = row * ld + col;
            dst[at] += mask is null ? v : mask[at] * v;
        }
    }
}
