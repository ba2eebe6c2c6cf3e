using System.Text.Json.Serialization;
using Finetune.Peft.Prompts;

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

    /// <summary>PEFT's prefix_projection.</summary>
    [JsonPropertyName("prefix_projection")]
    public bool Projection { get; init; }

    /// <summary>Width of the reparameterisation MLP (PEFT's encoder_hidden_size).</summary>
    [JsonPropertyName("encoder_hidden_size")]
    public int ProjectionHidden { get; init; } = 128;

    /// <summary>Std of the normal init of the prefix table (or of the MLP's input embeddings).</summary>
    public float InitStd { get; init; } = 0.5f;

    public override void Validate()
    {
        int maxTokens = PromptTuningConfig.MaxVirtualTokens;
        if (NumVirtualTokens <= 0 || NumVirtualTokens > maxTokens)
            throw new ArgumentException(
                $"prefix tuning: field 'num_virtual_tokens' is {NumVirtualTokens}, expected an integer in [1, {maxTokens}]");
        if (ProjectionHidden is <= 0 or > 65_536)
            throw new ArgumentException(
                $"prefix tuning: field 'encoder_hidden_size' is {ProjectionHidden}, expected an integer in [1, 65536]");
        if (!(InitStd > 0 && float.IsFinite(InitStd)))
            throw new ArgumentOutOfRangeException(nameof(InitStd), InitStd, "prefix tuning: field 'init_std' must be positive");
    }
}
