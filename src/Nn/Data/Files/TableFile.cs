namespace Finetune.Nn.Data;

/// <summary>Opens a table file by its extension: .csv, .tsv, .jsonl (or .ndjson), .parquet; or plain text lines.</summary>
public static class TableFile
{
    public static readonly IReadOnlyList<string> Extensions = new[] { ".csv", ".tsv", ".jsonl", ".ndjson", ".parquet" };

    /// <summary>Whether <paramref name="path"/> has one of the <see cref="Extensions"/>.</summary>
    public static bool IsTable(string path) => Extensions.Contains(Path.GetExtension(path).ToLowerInvariant());

    /// <summary>The format a path's extension names; <paramref name="linesOtherwise"/> makes any other extension plain text.</summary>
    public static TableFormat FormatOf(string path, string option, bool linesOtherwise = false) => Path.GetExtension(
        path).ToLowerInvariant() switch
    {
        ".csv" => TableFormat.Csv,
        ".tsv" => TableFormat.Tsv,
        ".jsonl" or ".ndjson" => TableFormat.Jsonl,
        ".parquet" => TableFormat.Parquet,
        _ when linesOtherwise => TableFormat.Lines,
        var e => throw new ArgumentException($"{option}: '{path}' has the extension '{e}'; use one of {string.Join(", ", Extensions)}"),
    };

    public static RecordTable Read(string path, string option = "--data") => Read(path, FormatOf(path, option), option);

    public static RecordTable Read(string path, TableFormat format, string option)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{option}: file '{path}' does not exist", path);
        using var stream = File.OpenRead(path);
        return format switch
        {
            TableFormat.Csv => CsvTable.Read(stream, path),
            TableFormat.Tsv => CsvTable.Read(stream, path, '\t'),
            TableFormat.Parquet => ParquetTable.Read(stream, path),
            TableFormat.Jsonl => JsonlTable.Read(stream, path),
            _ => LineTable.Read(stream, path),
        };
    }
}
