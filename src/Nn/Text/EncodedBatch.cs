using Finetune.Kernels;

namespace Finetune.Nn.Text;

/// <summary>A padded batch in row-major [batch, seq] arrays, with helpers that make the model's input tensors.</summary>
public sealed record EncodedBatch(
    int BatchSize,
    int SequenceLength,
    int[] InputIds,
    float[] AttentionMask,
    int[] TokenTypeIds,
    int[] Lengths)
{
    /// <summary>int32 [batch, seq].</summary>
    public Tensor InputIdsTensor(Device? device = null) => Tensor.FromArray(InputIds, new[] { BatchSize, SequenceLength }, device);

    /// <summary>float32 0/1 [batch, seq].</summary>
    public Tensor AttentionMaskTensor(Device? device = null) =>
        Tensor.FromArray(AttentionMask, new[] { BatchSize, SequenceLength }, device);

    /// <summary>int32 zeros [batch, seq] (single-segment input).</summary>
    public Tensor TokenTypeIdsTensor(Device? device = null) => Tensor.FromArray(TokenTypeIds, new[] { BatchSize, SequenceLength }, device);
}
