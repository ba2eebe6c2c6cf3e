using Finetune.Kernels;

namespace Finetune.Nn;

/// <summary>
/// The BERT encoder with Hugging Face parameter names (<c>embeddings.*</c>, <c>encoder.layer.N.*</c>, <c>pooler.*</c>).
/// Inputs: int32 ids [B, T], a float32 0/1 attention mask [B, T] (1 = real token), optional int32 token types.
/// </summary>
public sealed class BertModel : Module
{
    /// <summary>Added to attention scores at padded keys; exp of it is 0 in float32.</summary>
    public const float MaskedScore = -1e9f;

    public BertModel(BertConfig config, Generator? generator = null, bool addPooler = true)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        RegisterModule("embeddings", new BertEmbeddings(config, generator));
        RegisterModule("encoder", new BertEncoder(config, generator));
        if (addPooler) RegisterModule("pooler", new BertPooler(config, generator));
    }

    public BertConfig Config { get; }

    public BertEmbeddings Embeddings => Child<BertEmbeddings>("embeddings");

    public BertEncoder Encoder => Child<BertEncoder>("encoder");

    public BertPooler? Pooler => NamedChildren().Any(c => c.Key == "pooler") ? Child<BertPooler>("pooler") : null;

    /// <summary>The last hidden state [B, T, hidden].</summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null)
    {
        using var profileScope = ProfileScope();
        if (attentionMask is not null && !attentionMask.ShapeEquals(inputIds))
            throw new ArgumentException($"bert: the attention mask {attentionMask.Describe()} must have the ids' shape "
                + $"{inputIds.Describe()}");
        int prompt = Embeddings.PromptLength;
        if (prompt == 0)
        {
            var additive = attentionMask is null ? null : AdditiveMask(attentionMask);
            return Encoder.Forward(Embeddings.Forward(inputIds, tokenTypeIds), additive);
        }
        // Prompt tokens are always attended to, and dropped from the output so it keeps the ids' shape.
        var mask = attentionMask is null ? null
            : AdditiveMask(Tensor.Concat(new[] { Tensor.Ones(new[] { inputIds.Size(0), prompt }, inputIds.Device), attentionMask }, 1));
        var hidden = Encoder.Forward(Embeddings.Forward(inputIds, tokenTypeIds), mask);
        return hidden.Narrow(1, prompt, inputIds.Size(1));
    }

    /// <summary>A 0/1 mask [B, T] → (mask − 1)·1e9 shaped [B, 1, 1, T] to broadcast over heads and queries.</summary>
    public static Tensor AdditiveMask(Tensor attentionMask)
    {
        ArgumentNullException.ThrowIfNull(attentionMask);
        if (attentionMask.DType != DType.Float32 || attentionMask.Rank != 2)
            throw new ArgumentException($"bert: the attention mask must be float32 0/1 [batch, seq], got {attentionMask.DType.Name()} "
                + $"{attentionMask.Describe()}");
        int b = attentionMask.Size(0), t = attentionMask.Size(1);
        return attentionMask.AddScalar(-1f).Scale(-MaskedScore).Reshape(b, 1, 1, t);
    }

    /// <summary>Freezes the three embedding tables and the embedding LayerNorm.</summary>
    public void FreezeEmbeddings() => Embeddings.Freeze();

    /// <summary>Freezes the embeddings and encoder layers 0 … <paramref name="count"/>−1.</summary>
    public void FreezeLowerLayers(int count)
    {
        if (count < 0 || count > Encoder.Count)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"bert: can freeze 0 to {Encoder.Count} layers");
        FreezeEmbeddings();
        for (int i = 0; i < count; i++) Encoder[i].Freeze();
    }
}
