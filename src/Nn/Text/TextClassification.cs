using Finetune.Nn.Data;
using Finetune.Nn.Training;

namespace Finetune.Nn.Text;

public static class TextClassification
{
    /// <summary>Tokenizes a batch of reviews with dynamic padding (to the longest, at most the tokenizer's max length).</summary>
    public static Batch Collate(BertTokenizerAdapter tokenizer, IReadOnlyList<Review> reviews, Kernels.Device? device = null) =>
        Collate(tokenizer, reviews.Select(r => r.Text).ToList(), null, reviews.Select(r => r.Label).ToArray(), device);

    /// <summary>Tokenizes texts or sentence pairs (with token types) with dynamic padding.</summary>
    public static Batch Collate(BertTokenizerAdapter tokenizer, IReadOnlyList<TextExample> examples, Kernels.Device? device = null)
    {
        bool pairs = examples.Count > 0 && examples[0].Pair is not null;
        if (examples.Any(e => (e.Pair is not null) != pairs))
            throw new ArgumentException("text classification: a batch mixes single texts and sentence pairs");
        return Collate(tokenizer, examples.Select(e => e.Text).ToList(), pairs ? examples.Select(e => e.Pair!).ToList() : null,
            examples.Select(e => e.Label).ToArray(), device);
    }

    private static Batch Collate(BertTokenizerAdapter tokenizer, IReadOnlyList<string> texts, IReadOnlyList<string>? pairs, int[] labels,
        Kernels.Device? device)
    {
        var encoded = pairs is null ? tokenizer.EncodeBatch(texts) : PairEncoding.EncodeBatch(tokenizer, texts, pairs);
        var inputs = new Dictionary<string, Tensor>
        {
            ["input_ids"] = encoded.InputIdsTensor(device),
            ["attention_mask"] = encoded.AttentionMaskTensor(device),
        };
        if (pairs is not null) inputs["token_type_ids"] = encoded.TokenTypeIdsTensor(device);
        return new Batch(inputs, Tensor.FromArray(labels, new[] { labels.Length }, device));
    }

    public static ClassificationData<Review> Data(BertTokenizerAdapter tokenizer, IReadOnlyList<Review> train,
        IReadOnlyList<Review>? validation, Kernels.Device? device = null) =>
        new(train, validation, items => Collate(tokenizer, items, device));
}
