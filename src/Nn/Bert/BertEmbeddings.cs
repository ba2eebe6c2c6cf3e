using Finetune.Kernels;

namespace Finetune.Nn;

/// <summary>word + position + token-type embeddings, then LayerNorm and dropout (HF <c>embeddings.*</c>).</summary>
public sealed class BertEmbeddings : Module
{
    public BertEmbeddings(BertConfig config, Generator? generator = null)
    {
        Config = config;
        RegisterModule("word_embeddings", new Embedding(config.VocabSize, config.HiddenSize, config.InitializerRange, generator));
        RegisterModule("position_embeddings", new Embedding(config.MaxPositions, config.HiddenSize, config.InitializerRange, generator));
        RegisterModule("token_type_embeddings", new Embedding(config.TypeVocabSize, config.HiddenSize, config.InitializerRange, generator));
        RegisterModule("LayerNorm", new LayerNorm(config.HiddenSize, config.LayerNormEps));
        RegisterModule("dropout", new Dropout(config.HiddenDropout, generator));
    }

    public BertConfig Config { get; }

    public Embedding WordEmbeddings => Child<Embedding>("word_embeddings");

    public Embedding PositionEmbeddings => Child<Embedding>("position_embeddings");

    public Embedding TokenTypeEmbeddings => Child<Embedding>("token_type_embeddings");

    /// <summary>int32 ids [B, T] (and optional int32 token types [B, T], zeros when null) → [B, T, hidden].</summary>
    public Tensor Forward(Tensor inputIds, Tensor? tokenTypeIds = null)
    {
        using var profileScope = ProfileScope();
        ArgumentNullException.ThrowIfNull(inputIds);
        if (inputIds.Rank != 2 || inputIds.DType != DType.Int32)
            throw new ArgumentException($"bert embeddings: input ids must be int32 [batch, seq], got {inputIds.DType.Name()} "
                + $"{inputIds.Describe()}");
        int batch = inputIds.Size(0), seq = inputIds.Size(1);
        if (seq > Config.MaxPositions)
            throw new ArgumentException($"bert embeddings: sequence length {seq} exceeds max_position_embeddings {Config.MaxPositions}");
        if (tokenTypeIds is not null && (!tokenTypeIds.ShapeEquals(inputIds) || tokenTypeIds.DType != DType.Int32))
            throw new ArgumentException($"bert embeddings: token type ids {tokenTypeIds.DType.Name()} {tokenTypeIds.Describe()} must be "
                + $"int32 of the ids' shape {inputIds.Describe()}");
        var words = WordEmbeddings.Forward(inputIds);
        // Type 0 (no ids given, and every prompt token) is row 0 of the table broadcast: nothing to upload inside a step.
        var typeZero = TokenTypeEmbeddings.Weight.Value.Narrow(0, 0, 1);
        var typeEmbeddings = tokenTypeIds is null
            ? typeZero.Expand(batch, seq, typeZero.Size(1))
            : TokenTypeEmbeddings.Forward(tokenTypeIds);
        if (FindChild<IPromptTokens>(Hooks.Prompt) is { } prompt)
        {
            if (prompt.Depth != 1)
                throw new InvalidOperationException($"bert embeddings: a prompt of depth {prompt.Depth} cannot be "
                    + "inserted here (only depth 1)");
            // Virtual tokens come first, as word embeddings of token type 0; positions then count them too.
            words = Tensor.Concat(new[] { prompt.Tokens(0, batch), words }, 1);
            typeEmbeddings = Tensor.Concat(new[] { typeZero.Expand(batch, prompt.Length, typeZero.Size(1)), typeEmbeddings }, 1);
            seq += prompt.Length;
            if (seq > Config.MaxPositions)
                throw new ArgumentException($"bert embeddings: sequence length {seq - prompt.Length} plus {prompt.Length} prompt tokens "
                    + $"exceeds max_position_embeddings {Config.MaxPositions}");
        }
        // Positions 0…seq-1 are the first seq rows of the table, so no position ids are built on the host.
        var x = words + typeEmbeddings + PositionEmbeddings.Weight.Value.Narrow(0, 0, seq);
        return Child<Layer>("dropout").Forward(Child<Layer>("LayerNorm").Forward(x));
    }

    /// <summary>Virtual tokens the forward prepends (0 without a prompt hook).</summary>
    public int PromptLength => FindChild<IPromptTokens>(Hooks.Prompt)?.Length ?? 0;
}
