using Finetune.Nn;

namespace Finetune.Peft.LnTuning;

public sealed class LnTuningMethod : PeftMethod<LnTuningConfig>
{
    public override string PeftType => "LN_TUNING";

    protected override void Inject(LnTuningConfig config, Injection injection)
    {
        var norms = injection.Root.NamedModules().Where(m => m.Value is LayerNorm).ToList();
        if (norms.Count == 0) throw new ArgumentException($"ln_tuning: {injection.Root.GetType().Name} has no LayerNorm");
        foreach (var (_, norm) in norms)
            foreach (var p in norm.Parameters()) injection.TrainInPlace(p);
    }
}
