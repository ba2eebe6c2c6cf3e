
namespace Finetune.Peft;

/// <summary>A named, ready-made config: what <c>--method</c> and <c>finetune compare</c> accept.</summary>
public sealed record PeftPreset(
    string Name,
    string Summary,
    Func<ModelFamily, int, PeftConfig> Create,
    float BertLearningRate,
    float VitLearningRate,
    ModelFamily[] Families)
{
    public float LearningRate(ModelFamily family) => family == ModelFamily.Bert ? BertLearningRate : VitLearningRate;
}
