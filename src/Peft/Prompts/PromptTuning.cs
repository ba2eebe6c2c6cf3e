using Finetune.Nn;

namespace Finetune.Peft.Prompts;

public enum PromptInit
{
    /// <summary>N(0, init_std).</summary>
    Random,

    /// <summary>Copies of word-embedding rows: <see cref="PromptTuningConfig.InitTokenIds"/> cycled, or ids drawn from the vocabulary.</summary>
    Vocabulary,
}

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

    public override void Validate()
    {
        if (NumVirtualTokens <= 0) throw new ArgumentOutOfRangeException(nameof(NumVirtualTokens), NumVirtualTokens, "prompt tuning: field 'num_virtual_tokens' must be positive");
        if (!(InitStd > 0)) throw new ArgumentOutOfRangeException(nameof(InitStd), InitStd, "prompt tuning: field 'init_std' must be positive");
        if (InitTokenIds.Any(i => i < 0)) throw new ArgumentException("prompt tuning: field 'init_token_ids' holds a negative id");
    }
}

/// <summary>The learned tokens, <c>weight</c> [depth × n, hidden]; a hook under the name <see cref="Hooks.Prompt"/>.</summary>
public sealed class PromptEmbedding : Module, IPromptTokens
{
    public PromptEmbedding(int length, int depth, Tensor initial)
    {
        if (initial.Rank != 2 || initial.Size(0) != length * depth)
            throw new ArgumentException($"prompt: initial tokens {initial.Describe()} must be [{length * depth}, hidden]");
        Length = length;
        Depth = depth;
        Weight = RegisterParameter("weight", new Parameter(initial));
    }

    public int Length { get; }

    public int Depth { get; }

    public Parameter Weight { get; }

    public Tensor Tokens(int layer, int batch)
    {
        if ((uint)layer >= (uint)Depth) throw new ArgumentOutOfRangeException(nameof(layer), layer, $"prompt: layer must be below the depth {Depth}");
        var rows = Weight.Value.Narrow(0, layer * Length, Length);
        return rows.Unsqueeze(0).Expand(batch, Length, rows.Size(1));
    }
}

public sealed class PromptTuningMethod : PeftMethod<PromptTuningConfig>
{
    public override string PeftType => "PROMPT_TUNING";

    protected override void Inject(PromptTuningConfig config, Injection injection)
    {
        var model = injection.Root;
        int n = config.NumVirtualTokens;
        if (model.NamedModules().FirstOrDefault(m => m.Value is BertEmbeddings) is { Value: BertEmbeddings emb } bert)
        {
            if (config.Deep) throw new ArgumentException("prompt tuning: field 'deep' needs a ViT; on BERT use prefix tuning for prompts in every layer");
            if (n > emb.Config.MaxPositions - 1) throw new ArgumentException($"prompt tuning: field 'num_virtual_tokens' is {n}, too many for {emb.Config.MaxPositions} positions");
            Tensor initial;
            using (GradMode.NoGrad())
            {
                if (config.Init == PromptInit.Vocabulary)
                {
                    int[] ids;
                    if (config.InitTokenIds.Count > 0) ids = Enumerable.Range(0, n).Select(i => config.InitTokenIds[i % config.InitTokenIds.Count]).ToArray();
                    else
                        using (var draws = Tensor.Uniform(new[] { n }, 0f, 1f, injection.Generator))
                            ids = draws.ToArray().Select(u => Math.Min(emb.Config.VocabSize - 1, (int)(u * emb.Config.VocabSize))).ToArray();
                    if (ids.FirstOrDefault(i => i >= emb.Config.VocabSize, -1) is var bad && bad >= 0)
                        throw new ArgumentException($"prompt tuning: field 'init_token_ids' holds {bad}, outside the vocabulary of {emb.Config.VocabSize}");
                    using var idTensor = Tensor.FromArray(ids, new[] { n }, emb.WordEmbeddings.Weight.Device);
                    initial = Tensor.Embedding(emb.WordEmbeddings.Weight.Value, idTensor).Contiguous();
                }
                else initial = Tensor.Normal(new[] { n, emb.Config.HiddenSize }, 0f, config.InitStd, injection.Generator);
            }
            injection.Attach(bert.Key, Hooks.Prompt, new PromptEmbedding(n, 1, initial));
            return;
        }
        if (model.NamedModules().FirstOrDefault(m => m.Value is VitModel) is { Value: VitModel vit } host)
        {
            if (config.Init == PromptInit.Vocabulary) throw new ArgumentException("prompt tuning: field 'init' is 'vocabulary', but a ViT has no vocabulary");
            int depth = config.Deep ? vit.Encoder.Count : 1;
            Tensor initial;
            using (GradMode.NoGrad()) initial = Tensor.Normal(new[] { depth * n, vit.Config.HiddenSize }, 0f, config.InitStd, injection.Generator);
            injection.Attach(host.Key, Hooks.Prompt, new PromptEmbedding(n, depth, initial));
            return;
        }
        throw new ArgumentException($"prompt tuning: {model.GetType().Name} holds neither BERT embeddings nor a ViT to put a prompt into");
    }
}
