using Finetune.Nn;
using Finetune.Nn.Data;
using Finetune.Nn.Text;
using Finetune.Nn.Training;
using Finetune.Peft;

namespace Finetune.App;

/// <summary>
/// What <c>finetune predict</c> does: reads a text file (one record per line), a CSV/TSV or a JSONL file, and writes
/// the predicted class and the class probabilities of each record in the same format (<see cref="PredictionWriter"/>).
/// A text run reads its text column(s); an image run reads image paths (column <see cref="ImageColumn"/>, or one per
/// line), relative to the input file's folder.
/// </summary>
public static class FilePrediction
{
    public const string ImageColumn = "image";

    /// <returns>How many records were predicted and how many bad ones were skipped.</returns>
    public static (int Predicted, int Skipped) Text(
        PreparedClassifier prepared, BertTokenizerAdapter tokenizer, string input, TextWriter output, bool skipBadRows = false,
            int batchSize = 32)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var (labels, data, format) = Open(prepared, input, DataKind.Text);
        if (format == TableFormat.Lines && data.TextPairColumn is not null)
            throw new ArgumentException(
                "--input: the run classifies sentence pairs; give a CSV or JSONL file with the columns "
                + $"'{data.TextColumn}' and '{data.TextPairColumn}'");
        var table = TableFile.Read(input, format, "--input");
        var columns = format == TableFormat.Lines ? new TextColumns(LineTable.Column) : data.Columns;
        var (loaded, _) = TextDataset.FromTable(table, columns, null, skipBadRows, withLabels: false);
        var probabilities = Prediction.Probabilities(prepared.Classifier, loaded.Examples, items => TextClassification.Collate(tokenizer,
            items), batchSize);
        var rows = loaded.Examples.Select(e => table.Rows[e.Row - 1]).ToList();
        PredictionWriter.Write(output, format, table, rows, labels, probabilities);
        return (rows.Count, loaded.Skipped);
    }

    /// <returns>How many images were predicted and how many bad rows (no path, a missing or undecodable image) were skipped.</returns>
    public static (int Predicted, int Skipped) Images(
        PreparedClassifier prepared, ImageProcessorConfig processor, string input, TextWriter output, bool skipBadRows = false,
            int batchSize = 32)
    {
        ArgumentNullException.ThrowIfNull(processor);
        var (labels, _, format) = Open(prepared, input, DataKind.Image);
        var table = TableFile.Read(input, format, "--input");
        string? column = format == TableFormat.Lines ? null : ImageColumn;
        int index = column is null ? 0 : table.Require(column, "--input (image runs read the column 'image')");
        var folder = Path.GetDirectoryName(Path.GetFullPath(input))!;
        var bad = new BadRows(input, skipBadRows);
        var images = new List<LabeledImage>();
        var rows = new List<TableRow>();
        foreach (var row in table.Rows)
        {
            var path = row.Values[index];
            if (row.Problem is not null || string.IsNullOrWhiteSpace(path))
            {
                bad.Report(row.Number, column, row.Problem ?? "no image path");
                continue;
            }
            var file = Path.Combine(folder, path.Trim());
            if (!File.Exists(file))
            {
                bad.Report(row.Number, column, $"no image file {CsvTable.Quote(file)}");
                continue;
            }
            try
            {
                images.Add(new LabeledImage(ImageDecoder.Decode(File.ReadAllBytes(file), file, processor), -1));
                rows.Add(row);
            }
            catch (Exception e) when (e is DataFileException or IOException or UnauthorizedAccessException)
            {
                bad.Report(row.Number, column, e is DataFileException d ? $"{file}: {d.Problem}" : $"cannot read {file}: {e.Message}");
            }
        }
        var kept = bad.Result(images);
        var probabilities = Prediction.Probabilities(prepared.Classifier, kept.Examples, items => processor.Collate(items), batchSize);
        PredictionWriter.Write(output, format, table, rows, labels, probabilities);
        return (rows.Count, kept.Skipped);
    }

    /// <summary>The run's classes and data settings, checked against the kind of data asked for, and the input's format.</summary>
    private static (LabelMap Labels, DatasetSettings Data, TableFormat Format) Open(PreparedClassifier prepared, string input,
        DataKind kind)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        ArgumentNullException.ThrowIfNull(input);
        var labels = prepared.Options.Classes(FineTuning.RunFile)
            ?? throw new ArgumentException(
                "--model: the run was not trained on a dataset file (its finetune_run.json has no id2label); "
                + "predict needs a run of train --data");
        var data = prepared.Options.Data ?? new DatasetSettings();
        if (data.Kind != kind)
            throw new ArgumentException(
                $"--model: the run classifies {data.Kind.ToString().ToLowerInvariant()}s, not {kind.ToString().ToLowerInvariant()}s");
        var format = TableFile.FormatOf(input, "--input", linesOtherwise: true);
        if (format == TableFormat.Parquet) throw new ArgumentException($"--input: '{input}': predict reads text files, CSV/TSV and JSONL");
        return (labels, data, format);
    }
}
