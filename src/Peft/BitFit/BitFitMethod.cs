namespace Finetune.Peft.BitFit;

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
