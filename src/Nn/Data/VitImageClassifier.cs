using Finetune.Nn.Training;

namespace Finetune.Nn.Data;

/// <summary>A ViT classifier as an <see cref="IClassifier"/>: batches carry pixel_values.</summary>
public sealed class VitImageClassifier(VitForImageClassification model) : IClassifier
{
    public VitForImageClassification Model { get; } = model;

    public Module Module => Model;

    public Tensor Logits(Batch batch) => Model.Forward(batch["pixel_values"]);
}
