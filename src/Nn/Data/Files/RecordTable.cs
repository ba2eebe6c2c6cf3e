namespace Finetune.Nn.Data;

/// <summary>The records of a CSV/TSV, JSONL or Parquet file as strings, with the file's column names.</summary>
public sealed class RecordTable
{
    private readonly Dictionary<string, int> _index;

    /// <param name="unsupported">Columns whose values a reader cannot turn into text (a Parquet list or binary), with their type.</param>
    public RecordTable(string source, IReadOnlyList<string> columns, IReadOnlyList<TableRow> rows, IReadOnlyDictionary<string,
        string>? unsupported = null)
    {
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(rows);
        Source = source;
        Columns = columns;
        Rows = rows;
        Unsupported = unsupported ?? new Dictionary<string, string>();
        _index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < columns.Count; i++)
            if (!_index.TryAdd(columns[i], i))
                throw new DataFileException(source, null, columns[i], "the column name appears twice in the header");
    }

    /// <summary>The file the records came from (for messages).</summary>
    public string Source { get; }

    public IReadOnlyList<string> Columns { get; }

    public IReadOnlyList<TableRow> Rows { get; }

    /// <summary>Columns present but without text values, by name, with the type a reader found.</summary>
    public IReadOnlyDictionary<string, string> Unsupported { get; }

    /// <summary>The position of <paramref name="column"/>, or -1.</summary>
    public int IndexOf(string column) => _index.GetValueOrDefault(column, -1);

    /// <summary>The position of <paramref name="column"/>; a missing column is an error naming the option and the columns there
    /// are.</summary>
    public int Require(string column, string option)
    {
        int i = IndexOf(column);
        if (i >= 0 && Unsupported.TryGetValue(column, out var type))
            throw new DataFileException(Source, null, column,
                $"the column holds {type} values, not text, numbers or labels (named by {option})");
        if (i >= 0) return i;
        var have = Columns.Count == 0 ? "none" : string.Join(", ", Columns.Select(c => $"'{c}'"));
        throw new DataFileException(Source, null, column, $"no such column (named by {option}); the file's columns are {have}");
    }
}
