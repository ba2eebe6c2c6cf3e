
namespace Finetune.Peft.Full;

public sealed class LinearProbeMethod : PeftMethod<LinearProbeConfig>
{
    public override string PeftType => "LINEAR_PROBE";

    // The head is a module to save, which the model wrapper copies and trains; nothing else changes.
    protected override void Inject(LinearProbeConfig config, Injection injection)
    {
    }
}
