using System.Text;
using System.Text.Json;

namespace Finetune.Nn.Data;

/// <summary>
/// JSON Lines: one JSON object per line (blank lines skipped). The columns are the keys in order of first appearance;
/// strings, numbers and booleans become their text (objects and arrays their JSON); null or a missing key is no
/// value. A line that is not an object keeps a problem that names it. Text must be UTF-8.
/// </summary>
public static class JsonlTable
{
    /// <summary>The one entry point: every record of <paramref name="stream"/>; <paramref name="source"/> names it in errors.</summary>
    public static RecordTable Read(Stream stream, string source)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var columns = new List<string>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var records = new List<(Dictionary<int, string?> Values, string? Problem, string Raw)>();
        var reader = new StreamReader(stream, new UTF8Encoding(false, throwOnInvalidBytes: true), detectEncodingFromByteOrderMarks: true);
        int line = 0;
        try
        {
            while (reader.ReadLine() is { } text)
            {
                line++;
                if (string.IsNullOrWhiteSpace(text)) continue;
                var (values, problem) = ParseLine(text, line, columns, index);
                records.Add((values, problem, text));
            }
        }
        catch (DecoderFallbackException e)
        {
            throw new DataFileException(source, records.Count + 1, null, $"line {line + 1} is not UTF-8 text", e);
        }
        var rows = new List<TableRow>(records.Count);
        foreach (var (values, problem, raw) in records)
        {
            var row = new string?[columns.Count];
            foreach (var (i, v) in values) row[i] = v;
            rows.Add(new TableRow(rows.Count + 1, row, problem, raw));
        }
        return new RecordTable(source, columns, rows);
    }

    private static (Dictionary<int, string?>, string?) ParseLine(string text, int line, List<string> columns, Dictionary<string, int> index)
    {
        var values = new Dictionary<int, string?>();
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            return (values, $"line {line} is not valid JSON ({e.Message.Split('.')[0]})");
        }
        using (doc)
        {
            try
            {
                return ReadObject(doc.RootElement, line, values, columns, index);
            }
            catch (InvalidOperationException)
            {
                // System.Text.Json refuses a lone surrogate escape ("\ud800") only when the string is read.
                return (values, $"line {line} holds a string that is not valid Unicode (a lone surrogate escape)");
            }
        }
    }

    private static (Dictionary<int, string?>, string?) ReadObject(
        JsonElement root, int line, Dictionary<int, string?> values, List<string> columns, Dictionary<string, int> index)
    {
        if (root.ValueKind != JsonValueKind.Object)
            return (values, $"line {line} is a JSON {root.ValueKind.ToString().ToLowerInvariant()}, not an object");
        string? problem = null;
        foreach (var p in root.EnumerateObject())
        {
            if (!index.TryGetValue(p.Name, out int i))
            {
                i = columns.Count;
                index[p.Name] = i;
                columns.Add(p.Name);
            }
            if (values.ContainsKey(i))
            {
                problem ??= $"line {line} has the key '{p.Name}' twice";
                continue;
            }
            values[i] = p.Value.ValueKind switch
            {
                JsonValueKind.String => p.Value.GetString(),
                JsonValueKind.Number => p.Value.GetRawText(),
                JsonValueKind.True => "true",
                JsonValueKind.False => "false",
                JsonValueKind.Null => null,
                _ => p.Value.GetRawText(),
            };
        }
        return (values, problem);
    }
}
