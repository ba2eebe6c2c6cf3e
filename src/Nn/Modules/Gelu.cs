namespace Finetune.Nn;

/// <summary>GELU, exact (erf) as in BERT, or the tanh approximation.</summary>
public sealed class Gelu(bool tanhApproximation = false) : Layer
{
    public bool TanhApproximation { get; } = tanhApproximation;

    protected override Tensor ForwardCore(Tensor input) => input.Gelu(TanhApproximation);
}
