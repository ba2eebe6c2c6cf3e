namespace Finetune.Nn.Data;

/// <summary>
/// Text classification examples from a table: a text column, an optional text-pair column and a label column (strings
/// or integers). Bad rows (no value in a column, an empty text or label, a label the classes do not have, a broken
/// record) stop the read with an error naming file, row and column, or are skipped and counted.
/// </summary>
public static class TextDataset
{
    /// <param name="labels">The classes; null builds them from this table's labels (the training file).</param>
    /// <param name="withLabels">False reads prediction input: no label column, every label −1.</param>
    public static (LoadResult<TextExample> Data, LabelMap? Labels) FromTable(
        RecordTable table, TextColumns columns, LabelMap? labels, bool skipBadRows, bool withLabels = true)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(columns);
        int text = table.Require(columns.Text, "--text-column");
        int pair = columns.TextPair is { } p ? table.Require(p, "--text-pair-column") : -1;
        int label = withLabels ? table.Require(columns.Label, "--label-column") : -1;
        var bad = new BadRows(table.Source, skipBadRows);
        var good = new List<(TableRow Row, string? Label)>(table.Rows.Count);
        foreach (var row in table.Rows)
        {
            if (row.Problem is { } problem)
            {
                bad.Report(row.Number, null, problem);
                continue;
            }
            if (!HasText(row, text, columns.Text, bad) || (pair >= 0 && !HasText(row, pair, columns.TextPair!, bad))) continue;
            string? name = null;
            if (label >= 0)
            {
                name = row.Values[label]?.Trim();
                if (string.IsNullOrEmpty(name))
                {
                    bad.Report(row.Number, columns.Label, row.Values[label] is null ? "no value" : "the label is empty");
                    continue;
                }
            }
            good.Add((row, name));
        }
        if (good.Count == 0) return (bad.Result(Array.Empty<TextExample>()), labels);
        if (withLabels && labels is null)
        {
            var names = good.Select(g => g.Label!).Distinct(StringComparer.Ordinal).ToList();
            if (names.Count < 2)
                throw new DataFileException(table.Source, null, columns.Label,
                    $"a classifier needs at least 2 classes; the labels hold {names.Count} "
                    + $"({string.Join(", ", names.Select(n => $"'{n}'"))})");
            labels = LabelMap.FromLabels(names);
        }
        var examples = new List<TextExample>(good.Count);
        foreach (var (row, name) in good)
        {
            int id = -1;
            if (name is not null && !labels!.TryGetId(name, out id))
            {
                bad.Report(row.Number, columns.Label, $"unknown label {CsvTable.Quote(name)}; the classes are {labels}");
                continue;
            }
            examples.Add(new TextExample(row.Values[text]!, pair >= 0 ? row.Values[pair] : null, id, row.Number));
        }
        return (bad.Result(examples), labels);
    }

    private static bool HasText(TableRow row, int index, string column, BadRows bad)
    {
        var value = row.Values[index];
        if (!string.IsNullOrWhiteSpace(value)) return true;
        bad.Report(row.Number, column, value is null ? "no value" : "the text is empty");
        return false;
    }
}
