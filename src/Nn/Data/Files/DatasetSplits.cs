namespace Finetune.Nn.Data;

/// <summary>Train, validation and test examples of a user's dataset, its classes, and the bad rows skipped in all files.</summary>
public sealed record DatasetSplits<T>(
    IReadOnlyList<T> Train, IReadOnlyList<T> Validation, IReadOnlyList<T> Test, LabelMap Labels, int Skipped,
        IReadOnlyList<string> SkipReasons);
