using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsvHelper;
using CsvHelper.Configuration;

namespace Finetune.Nn.Data;

/// <summary>
/// Writes predictions in the input's format: a text file gets one line per input line ("label", a tab, then
/// "class=probability" for every class); a CSV/TSV gets the input's columns plus <see cref="LabelField"/> and one
/// <c>prob_&lt;class&gt;</c> column per class; JSONL gets each input record plus <see cref="LabelField"/> and a
/// <see cref="ProbabilitiesField"/> object.
/// </summary>
public static class PredictionWriter
{
    public const string LabelField = "predicted_label", ProbabilitiesField = "probabilities", ProbabilityPrefix = "prob_";

    /// <summary>Text as it is (no \u escapes of accents or quotes), as the input had it.</summary>
    private static readonly JsonSerializerOptions Json = new()
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <param name="rows">The input rows predicted, in order (skipped bad rows left out).</param>
    /// <param name="probabilities">One row of class probabilities per entry of <paramref name="rows"/>.</param>
    public static void Write(TextWriter output, TableFormat format, RecordTable input, IReadOnlyList<TableRow> rows, LabelMap labels,
        IReadOnlyList<float[]> probabilities)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (rows.Count != probabilities.Count) throw new ArgumentException(
            $"prediction writer: {rows.Count} rows but {probabilities.Count} predictions");
        foreach (var p in probabilities)
            if (p.Length != labels.Count) throw new ArgumentException(
                $"prediction writer: {p.Length} probabilities for {labels.Count} classes");
        switch (format)
        {
            case TableFormat.Lines:
                foreach (var p in probabilities)
                    output.Write(Best(labels, p) + "\t" + string.Join(' ', labels.Names.Select((n, c) => $"{n}={Number(p[c])}")) + "\n");
                break;
            case TableFormat.Jsonl:
                for (int i = 0; i < rows.Count; i++)
                {
                    var record = rows[i].Raw is { } raw && JsonNode.Parse(raw) is JsonObject o ? o : new JsonObject();
                    record[LabelField] = Best(labels, probabilities[i]);
                    var probs = new JsonObject();
                    for (int c = 0; c < labels.Count; c++) probs[labels.Names[c]] = probabilities[i][c];
                    record[ProbabilitiesField] = probs;
                    output.Write(record.ToJsonString(Json) + "\n");
                }
                break;
            default:
                WriteCsv(output, format == TableFormat.Tsv ? '\t' : ',', input, rows, labels, probabilities);
                break;
        }
    }

    private static void WriteCsv(TextWriter output, char delimiter, RecordTable input, IReadOnlyList<TableRow> rows, LabelMap labels,
        IReadOnlyList<float[]> probabilities)
    {
        var added = labels.Names.Select(n => ProbabilityPrefix + n).Prepend(LabelField).ToList();
        foreach (var name in added.Where(n => input.IndexOf(n) >= 0))
            throw new DataFileException(input.Source, null, name, "the input already has this column, which predictions are written to");
        using var csv = new CsvWriter(output, new CsvConfiguration(CultureInfo.InvariantCulture) { Delimiter = delimiter.ToString(),
            NewLine = "\n" }, leaveOpen: true);
        foreach (var column in input.Columns.Concat(added)) csv.WriteField(column);
        csv.NextRecord();
        for (int i = 0; i < rows.Count; i++)
        {
            foreach (var value in rows[i].Values) csv.WriteField(value ?? "");
            csv.WriteField(Best(labels, probabilities[i]));
            foreach (var p in probabilities[i]) csv.WriteField(Number(p));
            csv.NextRecord();
        }
    }

    /// <summary>The class with the highest probability (the first on a tie).</summary>
    public static string Best(LabelMap labels, float[] probabilities)
    {
        int best = 0;
        for (int c = 1; c < probabilities.Length; c++) if (probabilities[c] > probabilities[best]) best = c;
        return labels.Names[best];
    }

    private static string Number(float p) => p.ToString("R", CultureInfo.InvariantCulture);
}
