
namespace Finetune.Nn.Training;

public sealed record StepRecord(int Step, float Loss, float LearningRate, float GradNorm, double ExamplesPerSecond);
