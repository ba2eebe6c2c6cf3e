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
        if (attentionMask is not null && !attentionMask.ShapeEquals(inputIds))
            throw new ArgumentException($"bert: the attention mask {attentionMask.Describe()} must have the ids' shape {inputIds.Describe()}");
        int prompt = Embeddings.PromptLength;
        if (prompt == 0)
        {
            var additive = attentionMask is null ? null : AdditiveMask(attentionMask);
            return Encoder.Forward(Embeddings.Forward(inputIds, tokenTypeIds), additive);
        }
        // Prompt tokens are always attended to, and dropped from the output so it keeps the ids' shape.
        var mask = attentionMask is null ? null : AdditiveMask(Tensor.Concat(new[] { Tensor.Ones(new[] { inputIds.Size(0), prompt }, inputIds.Device), attentionMask }, 1));
        var hidden = Encoder.Forward(Embeddings.Forward(inputIds, tokenTypeIds), mask);
        return hidden.Narrow(1, prompt, inputIds.Size(1));
    }

    /// <summary>A 0/1 mask [B, T] → (mask − 1)·1e9 shaped [B, 1, 1, T] to broadcast over heads and queries.</summary>
    public static Tensor AdditiveMask(Tensor attentionMask)
    {
        ArgumentNullException.ThrowIfNull(attentionMask);
        if (attentionMask.DType != DType.Float32 || attentionMask.Rank != 2)
            throw new ArgumentException($"bert: the attention mask must be float32 0/1 [batch, seq], got {attentionMask.DType.Name()} {attentionMask.Describe()}");
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

/// <summary>How a sequence of hidden states becomes one vector.</summary>
public enum PoolingMode
{
    /// <summary>BERT's pooler: tanh(dense(first token)).</summary>
    Pooler,

    /// <summary>Average over real tokens (attention mask 1), as sentence-transformers does.</summary>
    Mean,
}

public static class Pooling
{
    /// <summary>Mean of <paramref name="hidden"/> [B, T, H] over positions where the float mask [B, T] is 1 → [B, H].</summary>
    public static Tensor Mean(Tensor hidden, Tensor attentionMask)
    {
        ArgumentNullException.ThrowIfNull(hidden);
        ArgumentNullException.ThrowIfNull(attentionMask);
        if (hidden.Rank != 3 || attentionMask.Rank != 2 || attentionMask.Size(0) != hidden.Size(0) || attentionMask.Size(1) != hidden.Size(1))
            throw new ArgumentException($"mean pooling: hidden {hidden.Describe()} must be [B, T, H] and the mask {attentionMask.Describe()} [B, T]");
        var m = attentionMask.Unsqueeze(-1);
        // The tiny addend keeps an all-padding row finite and does not change a count of 1 or more.
        return (hidden * m).Sum(1) / m.Sum(1).AddScalar(1e-9f);
    }

    /// <summary>Rows scaled to unit L2 norm (sentence-transformers' Normalize).</summary>
    public static Tensor L2Normalize(Tensor x) => x / (x * x).Sum(-1, keepDim: true).AddScalar(1e-24f).Sqrt();
}

/// <summary>
/// A BERT encoder with a new classification head (HF names: <c>bert.*</c>, <c>classifier.*</c>):
/// pooled output (pooler or mean) → dropout → Linear(hidden, labels).
/// </summary>
public sealed class BertForSequenceClassification : Module
{
    /// <summary>Wraps an existing (e.g. pretrained) encoder; the head is initialised N(0, initializer_range) from <paramref name="generator"/>.</summary>
    public BertForSequenceClassification(BertModel bert, int numLabels, PoolingMode pooling = PoolingMode.Pooler, Generator? generator = null, float? classifierDropout = null)
    {
        ArgumentNullException.ThrowIfNull(bert);
        if (numLabels <= 0) throw new ArgumentOutOfRangeException(nameof(numLabels), numLabels, "bert classifier: numLabels must be positive");
        if (pooling == PoolingMode.Pooler && bert.Pooler is null)
            throw new ArgumentException("bert classifier: pooler pooling needs a model with a pooler; use PoolingMode.Mean");
        NumLabels = numLabels;
        PoolingMode = pooling;
        RegisterModule("bert", bert);
        RegisterModule("dropout", new Dropout(classifierDropout ?? bert.Config.HiddenDropout, generator));
        RegisterModule("classifier", Linear.WithNormalInit(bert.Config.HiddenSize, numLabels, bert.Config.InitializerRange, generator));
    }

    /// <summary>A randomly initialised encoder of shape <paramref name="config"/> with a head.</summary>
    public BertForSequenceClassification(BertConfig config, int numLabels, PoolingMode pooling = PoolingMode.Pooler, Generator? generator = null)
        : this(new BertModel(config, generator), numLabels, pooling, generator)
    {
    }

    public int NumLabels { get; }

    public PoolingMode PoolingMode { get; }

    public BertModel Bert => Child<BertModel>("bert");

    public Layer Classifier => Child<Layer>("classifier");

    /// <summary>Logits [B, labels].</summary>
    public Tensor Forward(Tensor inputIds, Tensor attentionMask, Tensor? tokenTypeIds = null)
    {
        var hidden = Bert.Forward(inputIds, attentionMask, tokenTypeIds);
        var pooled = PoolingMode == PoolingMode.Mean ? Pooling.Mean(hidden, attentionMask) : Bert.Pooler!.Forward(hidden);
        return Classifier.Forward(Child<Layer>("dropout").Forward(pooled));
    }

    /// <summary>Freezes the whole encoder, leaving only the head trainable.</summary>
    public void FreezeEncoder() => Bert.Freeze();
}
