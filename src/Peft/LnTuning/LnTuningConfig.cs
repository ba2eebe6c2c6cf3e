using Finetune.Nn;

namespace Finetune.Peft.LnTuning;

/// <summary>LayerNorm tuning (Zhao et al., 2023; PEFT's LN_TUNING): only the LayerNorms' scales and shifts train.</summary>
public sealed record LnTuningConfig : PeftConfig
{
    public override string PeftType => "LN_TUNING";

    public override void Validate()
    {
    }
}
