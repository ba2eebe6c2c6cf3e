using System.Text;

namespace Finetune.Nn.Data;

/// <summary>A plain text file as a table of one column, <see cref="Column"/>: each line is a record (a blank line is an empty
/// text).</summary>
public static class LineTable
{
    public const string Column = "text";

    /// <summary>The one entry point: every line of <paramref name="stream"/>; <paramref name="source"/> names it in errors.</summary>
    public static RecordTable Read(Stream stream, string source)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var reader = new StreamReader(stream, new UTF8Encoding(false, throwOnInvalidBytes: true), detectEncodingFromByteOrderMarks: true);
        var rows = new List<TableRow>();
        try
        {
            while (reader.ReadLine() is { } line) rows.Add(new TableRow(rows.Count + 1, new string?[] { line }));
        }
        catch (DecoderFallbackException e)
        {
            throw new DataFileException(source, rows.Count + 1, null, "the line is not UTF-8 text", e);
        }
        return new RecordTable(source, new[] { Column }, rows);
    }
}
