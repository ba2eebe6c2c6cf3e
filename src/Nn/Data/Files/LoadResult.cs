namespace Finetune.Nn.Data;

/// <summary>The examples read from a dataset file, how many bad rows were skipped, and the first few reasons.</summary>
public sealed record LoadResult<T>(IReadOnlyList<T> Examples, int Skipped, IReadOnlyList<string> SkipReasons)
{
    /// <summary>How many skip reasons are kept for a report.</summary>
    public const int ReasonsKept = 5;
}
