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

    public override Tensor Forward(Tensor input) => input.LayerNorm(Weight.Value, Bias.Value, Eps);
}

/// <summary>Inverted dropout, active only in training mode; masks come from a seeded generator.</summary>
public sealed class Dropout : Layer
{
    public Dropout(float p, Generator? generator = null)
    {
        if (!(p >= 0f && p < 1f)) throw new ArgumentOutOfRangeException(nameof(p), p, "dropout: p must be in [0, 1)");
        P = p;
        Generator = generator;
    }

    public float P { get; }

    /// <summary>The mask stream; null uses <see cref="Finetune.Generator.Default"/>.</summary>
    public Generator? Generator { get; set; }

    public override Tensor Forward(Tensor input) => input.Dropout(P, Training, Generator);
}

/// <summary>GELU, exact (erf) as in BERT, or the tanh approximation.</summary>
public sealed class Gelu(bool tanhApproximation = false) : Layer
{
    public bool TanhApproximation { get; } = tanhApproximation;

    public override Tensor Forward(Tensor input) => input.Gelu(TanhApproximation);
}
