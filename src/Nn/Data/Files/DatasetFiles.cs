namespace Finetune.Nn.Data;

/// <summary>
/// A user's dataset: the training file (or image folder), optional validation and test files, and for each one not
/// given, the fraction of the training file that a seeded split holds out for it.
/// </summary>
public sealed record DatasetFiles
{
    public required string Train { get; init; }
    public string? Validation { get; init; }
    public string? Test { get; init; }
    public double ValidationSplit { get; init; } = 0.1;
    public double TestSplit { get; init; } = 0.1;
    public ulong Seed { get; init; } = 42;
    public bool SkipBadRows { get; init; }
}
