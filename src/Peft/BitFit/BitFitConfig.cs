namespace Finetune.Peft.BitFit;

/// <summary>BitFit (Ben Zaken et al., 2022): only the bias terms of the base model train.</summary>
public sealed record BitFitConfig : PeftConfig
{
    public override string PeftType => "BITFIT";

    public override void Validate()
    {
    }
}
