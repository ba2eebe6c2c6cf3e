
namespace Finetune.Peft.Prefix;

/// <summary>
/// Prefix tuning (Li &amp; Liang, 2021) as P-tuning v2 (Liu et al., 2022) applies it to encoders: n learned key and value
/// rows prepended in every self-attention. With <see cref="Projection"/> the rows come from a small MLP over n learned
/// embeddings (the reparameterisation), as PEFT's prefix_projection.
/// </summary>
public sealed record PrefixTuningConfig : PeftConfig
{
    public override string PeftType => "PREFIX_TUNING";

    public int NumVirtualTokens { get; init; } = 10;

    public bool Projection { get; init; }

    /// <summary>Width of the reparameterisation MLP (PEFT's encoder_hidden_size).</summary>
    public int ProjectionHidden { get; init; } = 128;

    /// <summary>Std of the normal init of the prefix table (or of the MLP's input embeddings).</summary>
    public float InitStd { get; init; } = 0.5f;

    public override void Validate()
    {
        if (NumVirtualTokens <= 0)
            throw new ArgumentOutOfRangeException(nameof(NumVirtualTokens), NumVirtualTokens, "prefix tuning: field "
                + "'num_virtual_tokens' must be positive");
        if (ProjectionHidden <= 0)
            throw new ArgumentOutOfRangeException(nameof(ProjectionHidden), ProjectionHidden, "prefix tuning: field "
                + "'projection_hidden' must be positive");
        if (!(InitStd > 0))
            throw new ArgumentOutOfRangeException(nameof(InitStd), InitStd, "prefix tuning: field 'init_std' must be positive");
    }
}
