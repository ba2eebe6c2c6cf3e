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
