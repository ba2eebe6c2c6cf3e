using Finetune.Nn;

namespace Finetune.Peft.IA3;

public sealed class Ia3Method : PeftMethod<Ia3Config>
{
    public override string PeftType => "IA3";

    protected override void Inject(Ia3Config config, Injection injection)
    {
        var targets = injection.FindLinears(p => Targets.Matches(p, config.TargetModules));
        if (targets.Count == 0)
            throw new ArgumentException($"ia3: no Linear matches target modules [{string.Join(", ", config.TargetModules)}]");
        foreach (var (path, linear) in targets)
            injection.Replace(path, new Ia3Linear(linear, Targets.Matches(path, config.FeedforwardModules)));
    }
}
