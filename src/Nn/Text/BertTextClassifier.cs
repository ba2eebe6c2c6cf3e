using Finetune.Nn.Training;

namespace Finetune.Nn.Text;

/// <summary>A BERT sequence classifier as an <see cref="IClassifier"/>: batches carry input_ids and attention_mask.</summary>
public sealed class BertTextClassifier(BertForSequenceClassification model) : IClassifier
{
    public BertForSequenceClassification Model { get; } = model;

    public Module Module => Model;

    /// <summary>Token types are read when the batch has them (sentence pairs).</summary>
    public Tensor Logits(Batch batch) =>
        Model.Forward(batch["input_ids"], batch["attention_mask"], batch.Inputs.GetValueOrDefault("token_type_ids"));
}
