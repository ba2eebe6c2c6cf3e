using System.Text.Json;
using System.Text.Json.Serialization;

namespace Finetune.Nn.Training;

public sealed record StepRecord(int Step, float Loss, float LearningRate, float GradNorm, double ExamplesPerSecond);
