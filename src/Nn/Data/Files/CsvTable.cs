using System.Globalization;
using System.Text;
using CsvHelper;
using CsvHelper.Configuration;

namespace Finetune.Nn.Data;

/// <summary>
/// CSV and TSV files (RFC 4180 quoting, through CsvHelper): the first record is the header. A record with fewer fields
/// than the header has no value in the missing columns; one with more fields, or with a stray quote, keeps a problem
/// that names it. Text must be UTF-8.
/// </summary>
public static class CsvTable
{
    /// <summary>The one entry point: every record of <paramref name="stream"/>; <paramref name="source"/> names it in errors.</summary>
    public static RecordTable Read(Stream stream, string source, char delimiter = ',')
    {
        ArgumentNullException.ThrowIfNull(stream);
        string? badData = null;
        var config = new CsvConfiguration(CultureInfo.InvariantCulture)
        {
            Delimiter = delimiter.ToString(),
            HasHeaderRecord = true,
            BadDataFound = args => badData ??= args.Field,
            DetectDelimiter = false,
            IgnoreBlankLines = true,
        };
        var reader = new StreamReader(stream, new UTF8Encoding(false, throwOnInvalidBytes: true), detectEncodingFromByteOrderMarks: true);
        using var parser = new CsvParser(reader, config);
        string[]? header = null;
        var rows = new List<TableRow>();
        try
        {
            while (parser.Read())
            {
                var fields = parser.Record ?? Array.Empty<string>();
                var problem = badData is null ? null : $"a quote inside the unquoted field {Quote(badData)}";
                badData = null;
                if (header is null)
                {
                    if (problem is not null) throw new DataFileException(source, null, null, "the header has " + problem);
                    header = fields.Select(f => f.Trim()).ToArray();
                    for (int i = 0; i < header.Length; i++)
                        if (header[i].Length == 0) throw new DataFileException(source, null, null,
                            $"header field {i + 1} is empty; every column needs a name");
                    continue;
                }
                if (fields.Length > header.Length)
                    problem ??= $"{fields.Length} fields where the header has {header.Length} (an unquoted '{delimiter}' in a value?)";
                var values = new string?[header.Length];
                for (int i = 0; i < Math.Min(fields.Length, header.Length); i++) values[i] = fields[i];
                rows.Add(new TableRow(rows.Count + 1, values, problem));
            }
        }
        catch (DecoderFallbackException e)
        {
            throw new DataFileException(source, rows.Count + 1, null, "the file is not UTF-8 text", e);
        }
        catch (CsvHelperException e)
        {
            throw new DataFileException(source, rows.Count + 1, null, "not valid CSV: " + e.Message.Split('\n')[0], e);
        }
        if (header is null) throw new DataFileException(source, null, null, "the file is empty; it needs a header row naming the columns");
        return new RecordTable(source, header, rows);
    }

    /// <summary>A value for a message: quoted, cut at 60 characters, control characters shown as escapes.</summary>
    public static string Quote(string? value)
    {
        if (value is null) return "(none)";
        var cut = value.Length > 60 ? value[..60] + "…" : value;
        var sb = new StringBuilder("'");
        foreach (var c in cut) sb.Append(char.IsControl(c) ? $"\\u{(int)c:X4}" : c.ToString());
        return sb.Append('\'').ToString();
    }
}
