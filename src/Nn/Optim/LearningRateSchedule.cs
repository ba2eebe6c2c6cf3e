namespace Finetune.Nn.Optim;

public enum DecayKind
{
    Constant,
    Linear,
    Cosine,
}

/// <summary>Linear warm-up from 0 to the base rate, then constant, linear or cosine decay to <see cref="FinalFraction"/>.</summary>
public sealed record LearningRateSchedule(int WarmupSteps, int TotalSteps, DecayKind Decay = DecayKind.Linear, float FinalFraction = 0f)
{
    public float Factor(long step)
    {
        if (WarmupSteps < 0 || TotalSteps < 1)
            throw new ArgumentException($"schedule: warm-up {WarmupSteps} and total {TotalSteps} steps must be >= 0 and >= 1");
        if (step < WarmupSteps) return (step + 1f) / (WarmupSteps + 1f);
        if (Decay == DecayKind.Constant) return 1f;
        float progress = Math.Clamp((float)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps), 0f, 1f);
        float shape = Decay == DecayKind.Linear ? 1f - progress : 0.5f * (1f + MathF.Cos(MathF.PI * progress));
        return FinalFraction + (1f - FinalFraction) * shape;
    }

    /// <summary>Sets the optimizer's rate for step <paramref name="step"/> (0-based).</summary>
    public void Apply(Optimizer optimizer, long step) => optimizer.LearningRate = optimizer.BaseLearningRate * Factor(step);
}

public static class GradientClipping
{
    /// <summary>Scales all gradients so their global L2 norm is at most <paramref name="maxNorm"/>; returns the norm before clipping.</summary>
    public static float ClipGlobalNorm(IEnumerable<NamedParameter> parameters, float maxNorm)
    {
        if (!(maxNorm > 0)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "clip: max norm must be > 0");
        var grads = parameters.Select(p => p.Tensor.Grad).OfType<Tensor>().ToList();
        if (grads.Count == 0) return 0f;
        using var scope = TensorScope.Begin();
        using var noGrad = GradMode.NoGrad();
        Tensor? total = null;
        foreach (var g in grads)
        {
            var sq = (g * g).Sum();
            total = total is null ? sq : total + sq;
        }
        float norm = MathF.Sqrt(total!.Item());
        if (float.IsFinite(norm) && norm > maxNorm)
        {
            float factor = maxNorm / (norm + 1e-6f);
            foreach (var g in grads) g.CopyFrom(g * factor);
        }
        return norm;
    }
}
