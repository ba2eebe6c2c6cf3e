namespace Finetune.Nn.Training;

/// <summary>A model that maps a batch to class logits [B, classes].</summary>
public interface IClassifier
{
    Module Module { get; }

    Tensor Logits(Batch batch);
}
