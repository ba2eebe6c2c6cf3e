namespace Finetune.Nn.Optim;

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
