namespace Finetune.Nn;

/// <summary>A module applied to a sublayer's output before the residual sum (bottleneck adapters).</summary>
public interface ISublayerAdapter
{
    /// <summary>The new sublayer output from the sublayer's input and its output, both [B, T, hidden].</summary>
    Tensor Forward(Tensor sublayerInput, Tensor sublayerOutput);
}
