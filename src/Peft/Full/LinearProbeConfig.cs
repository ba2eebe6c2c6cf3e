
namespace Finetune.Peft.Full;

/// <summary>Only the modules to save (a new head) train: the frozen-encoder baseline.</summary>
public sealed record LinearProbeConfig : PeftConfig
{
    public override string PeftType => "LINEAR_PROBE";

    public override void Validate()
    {
        if (ModulesToSave.Count == 0) throw new ArgumentException("linear probe: field 'modules_to_save' must name the head to train");
    }
}
