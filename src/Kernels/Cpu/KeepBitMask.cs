using System.Runtime.Intrinsics;

namespace Finetune.Kernels.Cpu;

/// <summary>
/// Dropout keep masks as bits (<see cref="ILoraKernels.StoresKeepBits"/>): the forward turns the keep-scales it drew into
/// one bit per element, so the backward reads 1/32 of x instead of running Philox again. Rows start on a byte
/// (⌈in/8⌉ bytes each), so row blocks written by different threads never share a byte.
/// </summary>
internal static unsafe class KeepBitMask
{
    private static Vector256<int> Lanes => Vector256.Create(1, 2, 4, 8, 16, 32, 64, 128);

    public static long RowBytes(int n) => (n + 7) / 8;

    /// <summary>Bits of rows × n keep-scales (kept: nonzero) into <paramref name="bits"/>, row r at r·⌈n/8⌉.</summary>
    public static void Write(float* scales, int rows, int n, byte* bits)
    {
        long rb = RowBytes(n);
        for (int r = 0; r < rows; r++)
        {
            float* s = scales + (long)r * n;
            byte* b = bits + r * rb;
            int i = 0;
            for (; i + 8 <= n; i += 8)
                b[i >> 3] = (byte)Vector256.ExtractMostSignificantBits(Vector256.GreaterThan(Vector256.Load(s + i), default));
            if (i == n) continue;
            int last = 0;
            for (int k = 0; i + k < n; k++) last |= s[i + k] != 0f ? 1 << k : 0;
            b[i >> 3] = (byte)last;
        }
    }

    /// <summary>The keep-scales (<paramref name="keep"/> or 0) of rows × n elements from their bits.</summary>
    public static void Read(byte* bits, int rows, int n, float keep, float* scales)
    {
        long rb = RowBytes(n);
        var k = Vector256.Create(keep);
        for (int r = 0; r < rows; r++)
        {
            float* s = scales + (long)r * n;
            byte* b = bits + r * rb;
            int i = 0;
            for (; i + 8 <= n; i += 8)
            {
                var set = Vector256.Equals(Vector256.Create((int)b[i >> 3]) & Lanes, Vector256<int>.Zero);
                Vector256.ConditionalSelect(set.AsSingle(), default, k).Store(s + i);
            }
            for (; i < n; i++) s[i] = (b[i >> 3] >> (i & 7) & 1) != 0 ? keep : 0f;
        }
    }
}
