using Finetune.Nn.Data;
using Finetune.Nn.Training;

namespace Finetune.Nn.Text;

public static class TextClassification
{
    /// <summary>Tokenizes a batch of reviews with dynamic padding (to the longest, at most the tokenizer's max length).</summary>
    public static Batch Collate(BertTokenizerAdapter tokenizer, IReadOnlyList<Review> reviews, Kernels.Device? device = null)
    {
        var encoded = tokenizer.EncodeBatch(reviews.Select(r => r.Text).ToList());
        return new Batch(
            new Dictionary<string, Tensor>
            {
                ["input_ids"] = encoded.InputIdsTensor(device),
                ["attention_mask"] = encoded.AttentionMaskTensor(device),
            },
            Tensor.FromArray(reviews.Select(r => r.Label).ToArray(), new[] { reviews.Count }, device));
    }

    public static ClassificationData<Review> Data(BertTokenizerAdapter tokenizer, IReadOnlyList<Review> train,
        IReadOnlyList<Review>? validation, Kernels.Device? device = null) =>
        new(train, validation, items => Collate(tokenizer, items, device));
}
