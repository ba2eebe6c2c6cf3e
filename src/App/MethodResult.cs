
using Finetune.Peft;

namespace Finetune.App;

/// <summary>One method's line in a comparison.</summary>
public sealed record MethodResult(
    string Method, string Summary, long TrainableParameters, long TotalParameters, double TrainablePercent,
    float Accuracy, float Loss, int TestExamples, int Steps, float LearningRate, double StepSeconds, long PeakMemoryBytes)
{
    public TrainableReport Parameters => new(TrainableParameters, TotalParameters);
}
