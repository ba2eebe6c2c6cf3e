using System.Runtime.InteropServices;

namespace Finetune.Kernels;

/// <summary>
/// The problem of one fused attention call (kernels.cu's AttentionShape, passed by value): queries [B, Tq, H, d], keys and
/// values [B, Tk, H, d], each with its own strides (the head dim contiguous); the output, dQ, dK and dV are packed
/// [B, T, H, d]. <see cref="MaskStride"/> is the element stride between the mask rows of two batch items (Tk for a
/// [B, 1, 1, Tk] mask, 0 for one row shared by the batch; unused without a mask).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct AttentionShape(int Batch, int Heads, int QueryLength, int KeyLength, int HeadDim, int MaskStride,
    float Scale, int Pad, AttentionStrides Query, AttentionStrides Key, AttentionStrides Value, AttentionStrides GradOutput)
{
    public AttentionStrides Output => AttentionStrides.Packed(QueryLength, Heads, HeadDim);

    public AttentionStrides KeyGrad => AttentionStrides.Packed(KeyLength, Heads, HeadDim);

    /// <summary>Stream element of probability (b, h, i, j): its index in the composed path's [B, H, Tq, Tk] tensor.</summary>
    public long DropoutIndex(long b, long h, long i, long j) => ((b * Heads + h) * QueryLength + i) * KeyLength + j;

    /// <summary>B·H·Tq·Tk: the probabilities the composed path would hold (and draws dropout for).</summary>
    public long Probabilities => (long)Batch * Heads * QueryLength * KeyLength;
}
