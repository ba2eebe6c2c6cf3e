namespace Finetune.Nn.Data;

/// <summary>
/// What a reader does with a bad row: stop with an error naming the file, row and column, or (with
/// --skip-bad-rows) count it, keep the first few reasons, and go on.
/// </summary>
public sealed class BadRows(string source, bool skip)
{
    private readonly List<string> _reasons = new();

    public string Source { get; } = source;

    public bool Skip { get; } = skip;

    public int Skipped { get; private set; }

    public IReadOnlyList<string> Reasons => _reasons;

    /// <summary>Throws a <see cref="DataFileException"/>, or records the row as skipped when skipping.</summary>
    /// <param name="file">The file at fault when it is not <see cref="Source"/> (an image in a dataset folder).</param>
    public void Report(int? row, string? column, string problem, string? file = null)
    {
        var error = new DataFileException(file ?? Source, row, column, problem);
        if (!Skip) throw error;
        Skipped++;
        if (_reasons.Count < LoadResult<object>.ReasonsKept) _reasons.Add(error.Message);
    }

    /// <summary>The examples kept; none kept is an error whatever the mode.</summary>
    public LoadResult<T> Result<T>(IReadOnlyList<T> examples)
    {
        if (examples.Count == 0)
            throw new DataFileException(Source, null, null, Skipped > 0
                ? $"all {Skipped} rows are bad (first: {_reasons.FirstOrDefault()})"
                : "the file holds no examples");
        return new LoadResult<T>(examples, Skipped, _reasons.ToArray());
    }
}
