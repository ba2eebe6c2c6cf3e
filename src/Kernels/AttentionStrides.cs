using System.Runtime.InteropServices;

namespace Finetune.Kernels;

/// <summary>Element strides of one attention operand [batch, length, heads, headDim] whose head dim is contiguous.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct AttentionStrides(long Batch, long Row, long Head)
{
    /// <summary>The strides of a contiguous [batch, length, heads, headDim] tensor.</summary>
    public static AttentionStrides Packed(int length, int heads, int headDim) =>
        new((long)length * heads * headDim, (long)heads * headDim, headDim);

    /// <summary>Offset of element (b, t, h, 0).</summary>
    public long At(long b, long t, long h) => b * Batch + t * Row + h * Head;
}
