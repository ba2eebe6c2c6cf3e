using Finetune.Kernels;

namespace Finetune;

/// <summary>Training stopped because the loss stopped being a number.</summary>
public sealed class TrainingDivergedException : Exception
{
    public TrainingDivergedException(int step, float loss)
        : base($"train: the loss at step {step} is {loss}; lower the learning rate, enable MaxGradNorm, or run the step under "
            + "AnomalyMode.Detect() to find the op that produced it")
    {
        Step = step;
        Loss = loss;
    }

    public int Step { get; }
    public float Loss { get; }
}
