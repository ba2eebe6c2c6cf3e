using Finetune.Nn;

namespace Finetune.Peft.Adapters;

public sealed class BottleneckMethod : PeftMethod<BottleneckConfig>
{
    public override string PeftType => "BOTTLENECK";

    protected override void Inject(BottleneckConfig config, Injection injection)
    {
        var layers = injection.Root.NamedModules().Where(m => m.Value is BertLayer).ToList();
        if (layers.Count == 0)
            throw new ArgumentException($"bottleneck: {injection.Root.GetType().Name} has no transformer layer to put adapters into");
        foreach (var (path, module) in layers)
        {
            var layer = (BertLayer)module;
            int hidden = layer.Attention.Self.NumHeads * layer.Attention.Self.HeadDim;
            int bottleneck = Math.Max(1, hidden / config.ReductionFactor);
            BottleneckAdapter New(bool parallel) =>
                new(hidden, bottleneck, parallel, config.Scaling, config.NonLinearity, injection.Generator) { Fused = config.Fused };
            if (config.Variant == BottleneckVariant.Houlsby) injection.Attach(path, Hooks.AttentionAdapter, New(false));
            injection.Attach(path, Hooks.OutputAdapter, New(config.Variant == BottleneckVariant.Parallel));
        }
    }
}
