namespace Finetune.Kernels;

/// <summary>Hyper-parameters of one AdamW step (bias corrections precomputed for the step number).</summary>
public readonly record struct AdamWStep(
    float LearningRate,
    float Beta1,
    float Beta2,
    float Eps,
    float WeightDecay,
    float Bias1,
    float Bias2);
