namespace Finetune.Nn.Text;

/// <summary>Sentence embeddings as sentence-transformers computes them: mean of the last hidden states over real tokens.</summary>
public static class SentenceEmbeddings
{
    /// <summary>One vector per text, in batches of <paramref name="batchSize"/>; unit length with <paramref name="normalize"/>.</summary>
    public static float[][] Embed(BertModel encoder, BertTokenizerAdapter tokenizer, IReadOnlyList<string> texts, int batchSize = 32,
        bool normalize = false)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(texts);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize,
            "embeddings: the batch size must be at least 1");
        var result = new float[texts.Count][];
        using var noGrad = GradMode.NoGrad();
        for (int start = 0; start < texts.Count; start += batchSize)
        {
            using var scope = TensorScope.Begin();
            var chunk = texts.Skip(start).Take(batchSize).ToList();
            var encoded = tokenizer.EncodeBatch(chunk);
            // The batch goes where the encoder's weights are (the CPU, or a CUDA device).
            var device = encoder.Parameters().First().Device;
            var mask = encoded.AttentionMaskTensor(device);
            var pooled = Pooling.Mean(encoder.Forward(encoded.InputIdsTensor(device), mask, encoded.TokenTypeIdsTensor(device)), mask);
            if (normalize) pooled = Pooling.L2Normalize(pooled);
            var values = pooled.ToArray();
            int dim = pooled.Size(1);
            for (int i = 0; i < chunk.Count; i++) result[start + i] = values.AsSpan(i * dim, dim).ToArray();
        }
        return result;
    }
}
