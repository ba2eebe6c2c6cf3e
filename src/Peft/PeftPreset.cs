using System.Text.Json;
using System.Text.Json.Nodes;
using Finetune.Peft.Adapters;
using Finetune.Peft.BitFit;
using Finetune.Peft.Full;
using Finetune.Peft.IA3;
using Finetune.Peft.LnTuning;
using Finetune.Peft.Lora;
using Finetune.Peft.Prefix;
using Finetune.Peft.Prompts;

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
