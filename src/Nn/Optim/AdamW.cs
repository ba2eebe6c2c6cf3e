using Finetune.Kernels;

namespace Finetune.Nn.Optim;

/// <summary>AdamW (Loshchilov &amp; Hutter): Adam with decoupled weight decay; no decay on biases and norms by default.</summary>
public sealed class AdamW : Optimizer
{
    public AdamW(IEnumerable<NamedParameter> parameters, float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f,
        float eps = 1e-8f, float weightDecay = 0.01f, Func<NamedParameter, bool>? decays = null)
        : base(parameters, learningRate)
    {
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "AdamW: beta1 must be in [0, 1)");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "AdamW: beta2 must be in [0, 1)");
        if (!(eps > 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "AdamW: eps must be > 0");
        if (!(weightDecay >= 0))
            throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "AdamW: weight decay must be >= 0");
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
        WeightDecay = weightDecay;
        Decays = decays ?? DecaysByDefault;
    }

    public float Beta1 { get; }
    public float Beta2 { get; }
    public float Eps { get; }
    public float WeightDecay { get; }
    public Func<NamedParameter, bool> Decays { get; }

    /// <summary>Biases, LayerNorm weights and other vectors are not decayed (the BERT convention).</summary>
    public static bool DecaysByDefault(NamedParameter p) =>
        p.Tensor.Rank > 1 && !p.Name.EndsWith("bias", StringComparison.Ordinal) &&
        !p.Name.Contains("LayerNorm", StringComparison.OrdinalIgnoreCase)
            && !p.Name.Contains("layer_norm", StringComparison.OrdinalIgnoreCase);

    protected override void Update(NamedParameter p, Tensor grad)
    {
        var s = StateOf(p, 2);
        var step = new AdamWStep(LearningRate, Beta1, Beta2, Eps, Decays(p) ? WeightDecay : 0f,
            1f - MathF.Pow(Beta1, StepCount), 1f - MathF.Pow(Beta2, StepCount));
        p.Tensor.Backend.AdamW(p.Tensor.Dense, grad.Dense, s[0].Dense, s[1].Dense, p.Tensor.Count, step);
    }
}
