namespace Finetune.Nn;

/// <summary>
/// y = x·Wᵀ + b with W stored [out, in] as in PyTorch; Wᵀ is a transposed view handed to GEMM, never copied.
/// Default init matches torch.nn.Linear: U(-1/√in, 1/√in) for weight and bias.
/// </summary>
public sealed class Linear : Layer
{
    public Linear(int inFeatures, int outFeatures, bool bias = true, Generator? generator = null)
    {
        if (inFeatures <= 0 || outFeatures <= 0)
            throw new ArgumentOutOfRangeException(nameof(inFeatures), "linear: features must be positive, got in "
                + $"{inFeatures}, out {outFeatures}");
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        float bound = 1f / MathF.Sqrt(inFeatures);
        Weight = RegisterParameter("weight", new Parameter(Tensor.Uniform(new[] { outFeatures, inFeatures }, -bound, bound, generator)));
        if (bias) Bias = RegisterParameter("bias", new Parameter(Tensor.Uniform(new[] { outFeatures }, -bound, bound, generator)));
    }

    /// <summary>A layer over given values: <paramref name="weight"/> [out, in] and optional <paramref name="bias"/> [out] (adopted, not
    /// copied).</summary>
    public Linear(Tensor weight, Tensor? bias)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Rank != 2) throw new ArgumentException($"linear: weight must be [out, in], got {weight.Describe()}");
        OutFeatures = weight.Size(0);
        InFeatures = weight.Size(1);
        if (bias is not null && (bias.Rank != 1 || bias.Size(0) != OutFeatures))
            throw new ArgumentException($"linear: bias {bias.Describe()} must be [{OutFeatures}] for weight {weight.Describe()}");
        Weight = RegisterParameter("weight", new Parameter(weight));
        if (bias is not null) Bias = RegisterParameter("bias", new Parameter(bias));
    }

    /// <summary>BERT's init: weight N(0, std), bias zero.</summary>
    public static Linear WithNormalInit(int inFeatures, int outFeatures, float std, Generator? generator = null, bool bias = true) =>
        new(Tensor.Normal(new[] { outFeatures, inFeatures }, 0f, std, generator), bias ? Tensor.Zeros(outFeatures) : null);

    public int InFeatures { get; }

    public int OutFeatures { get; }

    /// <summary>[out, in].</summary>
    public Parameter Weight { get; }

    /// <summary>[out], or null without bias.</summary>
    public Parameter? Bias { get; }

    protected override Tensor ForwardCore(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return Tensor.Linear(input, Weight.Value, Bias?.Value);
    }

    public override string ToString() => $"Linear(in={InFeatures}, out={OutFeatures}, bias={Bias is not null})";
}
