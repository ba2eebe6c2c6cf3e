namespace Finetune.Nn.Training;

/// <summary>Training and held-out examples and how to turn a list of them into a batch on a device.</summary>
public sealed record ClassificationData<TExample>(
    IReadOnlyList<TExample> Train,
    IReadOnlyList<TExample>? Validation,
    Func<IReadOnlyList<TExample>, Batch> Collate);
