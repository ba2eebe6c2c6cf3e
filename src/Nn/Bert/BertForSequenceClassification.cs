using Finetune.Kernels;

namespace Finetune.Nn;

/// <summary>
/// A BERT encoder with a new classification head (HF names: <c>bert.*</c>, <c>classifier.*</c>):
/// pooled output (pooler or mean) → dropout → Linear(hidden, labels).
/// </summary>
public sealed class BertForSequenceClassification : Module
{
    /// <summary>Wraps an existing (e.g. pretrained) encoder; the head is initialised N(0, initializer_range) from
    /// <paramref name="generator"/>.</summary>
    public BertForSequenceClassification(BertModel bert, int numLabels, PoolingMode pooling = PoolingMode.Pooler,
        Generator? generator = null, float? classifierDropout = null)
    {
        ArgumentNullException.ThrowIfNull(bert);
        if (numLabels <= 0)
            throw new ArgumentOutOfRangeException(nameof(numLabels), numLabels, "bert classifier: numLabels must be positive");
        if (pooling == PoolingMode.Pooler && bert.Pooler is null)
            throw new ArgumentException("bert classifier: pooler pooling needs a model with a pooler; use PoolingMode.Mean");
        NumLabels = numLabels;
        PoolingMode = pooling;
        RegisterModule("bert", bert);
        RegisterModule("dropout", new Dropout(classifierDropout ?? bert.Config.HiddenDropout, generator));
        RegisterModule("classifier", Linear.WithNormalInit(bert.Config.HiddenSize, numLabels, bert.Config.InitializerRange, generator));
    }

    /// <summary>A randomly initialised encoder of shape <paramref name="config"/> with a head.</summary>
    public BertForSequenceClassification(BertConfig config, int numLabels, PoolingMode pooling = PoolingMode.Pooler,
        Generator? generator = null)
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
        using var profileScope = ProfileScope();
        var hidden = Bert.Forward(inputIds, attentionMask, tokenTypeIds);
        var pooled = PoolingMode == PoolingMode.Mean ? Pooling.Mean(hidden, attentionMask) : Bert.Pooler!.Forward(hidden);
        return Classifier.Forward(Child<Layer>("dropout").Forward(pooled));
    }

    /// <summary>Freezes the whole encoder, leaving only the head trainable.</summary>
    public void FreezeEncoder() => Bert.Freeze();
}
