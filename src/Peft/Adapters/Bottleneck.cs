using Finetune.Nn;

namespace Finetune.Peft.Adapters;

public enum BottleneckVariant
{
    /// <summary>Houlsby et al. (2019): after the attention sublayer and after the feed-forward sublayer.</summary>
    Houlsby,

    /// <summary>Pfeiffer et al. (2021): after the feed-forward sublayer only.</summary>
    Pfeiffer,

    /// <summary>He et al. (2022): beside the feed-forward sublayer, fed its input, scaled and added to its output.</summary>
    Parallel,
}

/// <summary>Bottleneck adapters: down-projection to hidden / <see cref="ReductionFactor"/>, nonlinearity, up-projection (zero init), residual.</summary>
public sealed record BottleneckConfig : PeftConfig
{
    public override string PeftType => "BOTTLENECK";

    public BottleneckVariant Variant { get; init; } = BottleneckVariant.Houlsby;

    public int ReductionFactor { get; init; } = 16;

    /// <summary>"relu" or "gelu".</summary>
    public string NonLinearity { get; init; } = "relu";

    /// <summary>The factor on the adapter's output (He et al. use 4 for parallel adapters).</summary>
    public float Scaling { get; init; } = 1f;

    public override void Validate()
    {
        if (ReductionFactor <= 0) throw new ArgumentOutOfRangeException(nameof(ReductionFactor), ReductionFactor, "bottleneck: field 'reduction_factor' must be positive");
        if (NonLinearity is not ("relu" or "gelu")) throw new ArgumentException($"bottleneck: field 'non_linearity' must be relu or gelu, got '{NonLinearity}'");
        if (!float.IsFinite(Scaling)) throw new ArgumentException("bottleneck: field 'scaling' must be a finite number");
    }
}

/// <summary>
/// out + s·up(f(down(z))), z the sublayer's output (sequential) or input (parallel). The up-projection starts at zero,
/// so a fresh adapter is the identity. Children: <c>down</c>, <c>up</c>.
/// </summary>
public sealed class BottleneckAdapter : Module, ISublayerAdapter
{
    public BottleneckAdapter(int hidden, int bottleneck, bool parallel, float scaling, string nonLinearity, Generator generator)
    {
        Parallel = parallel;
        Scaling = scaling;
        Gelu = nonLinearity == "gelu";
        RegisterModule("down", new Linear(hidden, bottleneck, bias: true, generator));
        using (GradMode.NoGrad()) RegisterModule("up", new Linear(Tensor.Zeros(hidden, bottleneck), Tensor.Zeros(hidden)));
    }

    public bool Parallel { get; }

    public float Scaling { get; }

    public bool Gelu { get; }

    public Tensor Forward(Tensor sublayerInput, Tensor sublayerOutput)
    {
        var z = Child<Layer>("down").Forward(Parallel ? sublayerInput : sublayerOutput);
        var delta = Child<Layer>("up").Forward(Gelu ? z.Gelu() : z.Relu());
        return sublayerOutput + (Scaling == 1f ? delta : delta * Scaling);
    }
}

public sealed class BottleneckMethod : PeftMethod<BottleneckConfig>
{
    public override string PeftType => "BOTTLENECK";

    protected override void Inject(BottleneckConfig config, Injection injection)
    {
        var layers = injection.Root.NamedModules().Where(m => m.Value is BertLayer).ToList();
        if (layers.Count == 0) throw new ArgumentException($"bottleneck: {injection.Root.GetType().Name} has no transformer layer to put adapters into");
        foreach (var (path, module) in layers)
        {
            var layer = (BertLayer)module;
            int hidden = layer.Attention.Self.NumHeads * layer.Attention.Self.HeadDim;
            int bottleneck = Math.Max(1, hidden / config.ReductionFactor);
            BottleneckAdapter New(bool parallel) => new(hidden, bottleneck, parallel, config.Scaling, config.NonLinearity, injection.Generator);
            if (config.Variant == BottleneckVariant.Houlsby) injection.Attach(path, Hooks.AttentionAdapter, New(false));
            injection.Attach(path, Hooks.OutputAdapter, New(config.Variant == BottleneckVariant.Parallel));
        }
    }
}
