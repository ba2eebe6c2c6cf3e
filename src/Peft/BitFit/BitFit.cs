namespace Finetune.Peft.BitFit;

/// <summary>BitFit (Ben Zaken et al., 2022): only the bias terms of the base model train.</summary>
public sealed record BitFitConfig : PeftConfig
{
    public override string PeftType => "BITFIT";

    public override void Validate()
    {
    }
}

public sealed class BitFitMethod : PeftMethod<BitFitConfig>
{
    public override string PeftType => "BITFIT";

    protected override void Inject(BitFitConfig config, Injection injection)
    {
        int n = 0;
        foreach (var (path, p) in injection.Root.NamedParameters())
        {
            if (path != "bias" && !path.EndsWith(".bias", StringComparison.Ordinal)) continue;
            injection.TrainInPlace(p);
            n++;
        }
        if (n == 0) throw new ArgumentException($"bitfit: {injection.Root.GetType().Name} has no bias parameters");
    }
}
