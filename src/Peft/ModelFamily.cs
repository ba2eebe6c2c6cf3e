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

/// <summary>The model families a preset knows targets for.</summary>
public enum ModelFamily
{
    Bert,
    Vit,
}
