
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
        CheckNames("target_modules", TargetModules);
        CheckNames("feedforward_modules", FeedforwardModules);
        foreach (var f in FeedforwardModules)
            if (!TargetModules.Contains(f))
                throw new ArgumentException($"ia3: field 'feedforward_modules' holds '{f}', which is not in 'target_modules'");
    }
}
