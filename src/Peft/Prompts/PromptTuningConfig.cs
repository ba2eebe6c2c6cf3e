
namespace Finetune.Peft.Prompts;

/// <summary>
/// Prompt tuning (Lester et al., 2021) on BERT: n learned virtual tokens before the frozen input embeddings, always
/// attended to, counted by the positions. On a ViT it is VPT (Jia et al., 2022): tokens after the class token, inserted
/// once (shallow) or replaced before every layer (<see cref="Deep"/>).
/// </summary>
public sealed record PromptTuningConfig : PeftConfig
{
    public override string PeftType => "PROMPT_TUNING";

    public int NumVirtualTokens { get; init; } = 20;

    public PromptInit Init { get; init; } = PromptInit.Random;

    /// <summary>With vocabulary init: the token ids to copy (cycled to fill the prompt); empty draws them at random.</summary>
    public IReadOnlyList<int> InitTokenIds { get; init; } = Array.Empty<int>();

    public float InitStd { get; init; } = 0.02f;

    /// <summary>VPT-deep: a fresh set of tokens for every layer (ViT only).</summary>
    public bool Deep { get; init; }

    /// <summary>More virtual tokens than any position table holds.</summary>
    public const int MaxVirtualTokens = 4096;

    public override void Validate()
    {
        if (NumVirtualTokens is <= 0 or > MaxVirtualTokens)
            throw new ArgumentException($"prompt tuning: field 'num_virtual_tokens' is {NumVirtualTokens}, expected an integer in [1, " +
                $"{MaxVirtualTokens}]");
        if (!(InitStd > 0 && float.IsFinite(InitStd)))
            throw new ArgumentOutOfRangeException(nameof(InitStd), InitStd, "prompt tuning: field 'init_std' must be positive");
        if (InitTokenIds.Any(i => i < 0)) throw new ArgumentException("prompt tuning: field 'init_token_ids' holds a negative id");
    }
}
