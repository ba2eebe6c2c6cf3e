using Finetune.Kernels;

namespace Finetune.Nn;

/// <summary>
/// A projection layer (LoRA's Linear) that can hand its operands to a fused multi-projection op: when query, key and value
/// of a <see cref="BertSelfAttention"/> all give one, the three run as <see cref="Tensor.LoraQkv"/> (one pass over x for the
/// three low-rank paths) instead of three layer calls.
/// </summary>
public interface IFusedLoraProjection
{
    /// <summary>
    /// The operands of the fused op as this layer would run it now on <paramref name="device"/> (dropout 0 outside
    /// training), or null when it would not run the fused single-projection op (merged, DoRA, composed, no kernels).
    /// </summary>
    LoraProjection? FusedProjection(Device device);
}
