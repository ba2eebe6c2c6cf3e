namespace Finetune.Nn;

/// <summary>Layer normalisation over the last dim with learnable scale (ones) and shift (zeros).</summary>
public sealed class LayerNorm : Layer
{
    public LayerNorm(int dim, float eps = 1e-12f)
    {
        if (dim <= 0) throw new ArgumentOutOfRangeException(nameof(dim), dim, "layer_norm: dim must be positive");
        if (!(eps > 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "layer_norm: eps must be positive");
        Dim = dim;
        Eps = eps;
        Weight = RegisterParameter("weight", new Parameter(Tensor.Ones(dim)));
        Bias = RegisterParameter("bias", new Parameter(Tensor.Zeros(dim)));
    }

    public int Dim { get; }

    public float Eps { get; }

    public Parameter Weight { get; }

    public Parameter Bias { get; }

    protected override Tensor ForwardCore(Tensor input) => input.LayerNorm(Weight.Value, Bias.Value, Eps);
}
