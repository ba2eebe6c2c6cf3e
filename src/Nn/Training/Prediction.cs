namespace Finetune.Nn.Training;

/// <summary>A classifier run over examples in eval mode without gradients, one batch at a time: class probabilities.</summary>
public static class Prediction
{
    /// <summary>Softmax of the logits, one row of class probabilities per example.</summary>
    public static float[][] Probabilities<TExample>(IClassifier model, IReadOnlyList<TExample> examples, Func<IReadOnlyList<TExample>,
        Batch> collate, int batchSize = 32)
    {
        var rows = new List<float[]>(examples.Count);
        ForEachBatch(model, examples, collate, batchSize, (_, logits) =>
        {
            var p = logits.Softmax(-1).ToArray();
            int classes = logits.Size(1);
            for (int r = 0; r < logits.Size(0); r++) rows.Add(p.AsSpan(r * classes, classes).ToArray());
        });
        return rows.ToArray();
    }

    /// <summary>
    /// Calls <paramref name="onBatch"/> with each batch and its logits [B, classes], in eval mode without gradients, each
    /// batch in its own tensor scope; the module's training mode is restored afterwards.
    /// </summary>
    public static void ForEachBatch<TExample>(
        IClassifier model, IReadOnlyList<TExample> examples, Func<IReadOnlyList<TExample>, Batch> collate, int batchSize, Action<Batch,
            Tensor> onBatch)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(examples);
        if (examples.Count == 0) throw new ArgumentException("predict: no examples given");
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "predict: batch size must be at least 1");
        bool wasTraining = model.Module.Training;
        var device = Engine.DeviceOf(model.Module);
        model.Module.Eval();
        try
        {
            using var noGrad = GradMode.NoGrad();
            for (int start = 0; start < examples.Count; start += batchSize)
            {
                using var scope = TensorScope.Begin();
                var batch = collate(Engine.Slice(examples, start, Math.Min(examples.Count, start + batchSize))).To(device);
                onBatch(batch, model.Logits(batch));
            }
        }
        finally
        {
            model.Module.Train(wasTraining);
        }
    }
}
