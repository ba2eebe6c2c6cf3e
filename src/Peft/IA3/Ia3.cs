using Finetune.Nn;
using Finetune.Peft.Lora;

namespace Finetune.Peft.IA3;

/// <summary>
/// IA3 (Liu et al., 2022), named after PEFT's IA3Config: learned vectors, initialised to one, that scale the outputs of the
/// target projections (keys, values) and the inputs of the feed-forward ones (the FFN activations feeding <c>output.dense</c>).
/// </summary>
public sealed record Ia3Config : PeftConfig
{
    public override string PeftType => "IA3";

    public IReadOnlyList<string> TargetModules { get; init; } = new[] { "key", "value", "layer.*.output.dense" };

    /// <summary>Targets whose input (not output) is scaled; each must also be a target.</summary>
    public IReadOnlyList<string> FeedforwardModules { get; init; } = new[] { "layer.*.output.dense" };

    public override void Validate()
    {
        if (TargetModules.Count == 0) throw new ArgumentException("ia3: field 'target_modules' is empty");
        foreach (var f in FeedforwardModules)
            if (!TargetModules.Contains(f)) throw new ArgumentException($"ia3: field 'feedforward_modules' holds '{f}', which is not in 'target_modules'");
    }
}

/// <summary>A frozen Linear whose output (or, for feed-forward targets, input) is multiplied by a learned vector <c>ia3_l</c>.</summary>
public sealed class Ia3Linear : Layer
{
    public Ia3Linear(Linear baseLayer, bool feedforward)
    {
        ArgumentNullException.ThrowIfNull(baseLayer);
        IsFeedforward = feedforward;
        baseLayer.Freeze();
        RegisterModule("base_layer", baseLayer);
        Scaling = RegisterParameter("ia3_l", new Parameter(Tensor.Ones(feedforward ? baseLayer.InFeatures : baseLayer.OutFeatures)));
    }

    public bool IsFeedforward { get; }

    public Parameter Scaling { get; }

    public Linear BaseLayer => Child<Linear>("base_layer");

    public override Tensor Forward(Tensor input) => IsFeedforward
        ? BaseLayer.Forward(input * Scaling.Value)
        : BaseLayer.Forward(input) * Scaling.Value;
}

public sealed class Ia3Method : PeftMethod<Ia3Config>
{
    public override string PeftType => "IA3";

    protected override void Inject(Ia3Config config, Injection injection)
    {
        var targets = LoraInjector.FindLinears(injection.Root, p => Targets.Matches(p, config.TargetModules));
        if (targets.Count == 0)
            throw new ArgumentException($"ia3: no Linear matches target modules [{string.Join(", ", config.TargetModules)}]");
        foreach (var (path, linear) in targets)
            injection.Replace(path, new Ia3Linear(linear, Targets.Matches(path, config.FeedforwardModules)));
    }
}
