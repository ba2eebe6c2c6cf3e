namespace Finetune.Nn.Data;

/// <summary>
/// A dataset file that cannot be used as asked (an <see cref="IOException"/>: the file, not the call, is at fault). The message names the
/// file and, where they apply, the row (records
/// counted from 1, a CSV header not counted), the column and the value; the same facts are kept as properties.
/// </summary>
public sealed class DataFileException : IOException
{
    public DataFileException(string file, int? row, string? column, string problem, Exception? inner = null)
        : base(Describe(file, row, column) + problem, inner)
    {
        File = file;
        Row = row;
        Column = column;
        Problem = problem;
    }

    public string File { get; }

    public int? Row { get; }

    public string? Column { get; }

    /// <summary>What is wrong, without the place.</summary>
    public string Problem { get; }

    /// <summary>"file: row N, column 'c': " — the place part of a message.</summary>
    public static string Describe(string file, int? row, string? column) =>
        file + ": " + (row is { } r ? $"row {r}, " : "") + (column is null ? "" : $"column '{column}': ");
}
