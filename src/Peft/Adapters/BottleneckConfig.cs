
namespace Finetune.Peft.Adapters;

/// <summary>Bottleneck adapters: down-projection to hidden / <see cref="ReductionFactor"/>, nonlinearity, up-projection (zero init),
/// residual.</summary>
public sealed record BottleneckConfig : PeftConfig
{
    public override string PeftType => "BOTTLENECK";

    public BottleneckVariant Variant { get; init; } = BottleneckVariant.Houlsby;

    public int ReductionFactor { get; init; } = 16;

    /// <summary>"relu" or "gelu".</summary>
    public string NonLinearity { get; init; } = "relu";

    /// <summary>The factor on the adapter's output (He et al. use 4 for parallel adapters).</summary>
    public float Scaling { get; init; } = 1f;

    /// <summary>
    /// The fused adapter op (<see cref="Tensor.BottleneckAdapter"/>, the default) or the composed Linear, activation, scale
    /// and add (false, <c>--unfused</c>). A runtime choice, not written to adapter_config.json.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool Fused { get; init; } = true;

    public override void Validate()
    {
        if (ReductionFactor <= 0)
            throw new ArgumentOutOfRangeException(nameof(ReductionFactor), ReductionFactor,
                "bottleneck: field 'reduction_factor' must be positive");
        if (NonLinearity is not ("relu" or "gelu"))
            throw new ArgumentException($"bottleneck: field 'non_linearity' must be relu or gelu, got '{NonLinearity}'");
        if (!float.IsFinite(Scaling)) throw new ArgumentException("bottleneck: field 'scaling' must be a finite number");
    }
}
