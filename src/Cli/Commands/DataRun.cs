using System.Diagnostics;
using Finetune.App;
using Finetune.Nn;
using Finetune.Nn.Data;
using Finetune.Nn.IO;
using Finetune.Nn.Text;
using Finetune.Nn.Training;
using Finetune.Peft;
using Spectre.Console;

namespace Finetune.Cli.Commands;

/// <summary>
/// train --data: fine-tunes on a user's dataset — a CSV/TSV, JSONL or Parquet file of texts on all-MiniLM-L6-v2, or a
/// folder of class folders of images on the ViT that pretrain-vit caches — then scores the test part.
/// </summary>
internal static class DataRun
{
    /// <param name="LearningRate">The --lr given, else null for the preset's rate for the model family.</param>
    public sealed record Settings(
        FineTuneOptions Method, TrainOptions Train, float? LearningRate, DatasetFiles Files, TextColumns Columns, int MaxLength,
        TruncationMode Truncation, string? SaveTo);

    public static ResultTable.Row Execute(Settings s, out string title)
    {
        if (Directory.Exists(s.Files.Train)) return Images(s, out title);
        if (!File.Exists(s.Files.Train))
            throw new FileNotFoundException($"--data: '{s.Files.Train}' is neither a file nor a folder", s.Files.Train);
        return Texts(s, out title);
    }

    private static ResultTable.Row Texts(Settings s, out string title)
    {
        var splits = ImdbRun.Status($"Reading {s.Files.Train}", () => UserDataset.LoadText(s.Files, s.Columns));
        Describe(splits);
        var tokenizer = FineTuning.TextTokenizer(s.Method, s.MaxLength);
        tokenizer.Truncation = s.Truncation;
        var options = s.Method.WithLabels(splits.Labels) with
        {
            Data = new DatasetSettings
            {
                Kind = DataKind.Text, TextColumn = s.Columns.Text, TextPairColumn = s.Columns.TextPair, LabelColumn = s.Columns.Label,
                MaxLength = s.MaxLength, Truncation = s.Truncation,
            },
        };
        title = $"{Path.GetFileName(s.Files.Train)}, {FineTuning.BaseModelName(options)}";
        using var prepared = ImdbRun.Status($"Loading {FineTuning.BaseModelName(options)} and preparing {options.Describe()}",
            () => FineTuning.Text(options));
        return TrainAndTest(s, prepared, splits, ModelFamily.Bert, items => TextClassification.Collate(tokenizer, items), null);
    }

    private static ResultTable.Row Images(Settings s, out string title)
    {
        var vitDir = VitCheckpoint.DefaultDirectory();
        if (!VitCheckpoint.Exists(vitDir))
        {
            AnsiConsole.MarkupLine(
                $"[yellow]No pretrained ViT cached in {Markup.Escape(vitDir)}: running pretrain-vit with its defaults first.[/]");
            PretrainVitCommand.Pretrain(new PretrainVitCommand.Settings(), vitDir);
        }
        var encoder = VitCheckpoint.Load(vitDir);
        try
        {
            // A cache written before preprocessor_config.json existed was still pretrained on Fashion-MNIST's statistics.
            var processor = File.Exists(Path.Combine(vitDir, ImageProcessorConfig.FileName))
                ? ImageProcessorConfig.Load(vitDir, encoder.Config)
                : FashionMnist.Processor;
            var splits = ImdbRun.Status($"Reading the images of {s.Files.Train}", () => UserDataset.LoadImages(s.Files, processor));
            Describe(splits);
            var options = s.Method.WithLabels(splits.Labels) with { Data = new DatasetSettings { Kind = DataKind.Image } };
            title = $"{Path.GetFileName(Path.TrimEndingDirectorySeparator(s.Files.Train))}, ViT pretrained on Fashion-MNIST 0-4";
            using var prepared = FineTuning.PrepareVit(encoder, options);
            return TrainAndTest(s, prepared, splits, ModelFamily.Vit, items => processor.Collate(items), processor);
        }
        catch
        {
            encoder.Dispose();
            throw;
        }
    }

    private static ResultTable.Row TrainAndTest<T>(
        Settings s, PreparedClassifier prepared, DatasetSplits<T> splits, ModelFamily family, Func<IReadOnlyList<T>, Batch> collate,
            ImageProcessorConfig? images)
    {
        if (splits.Test.Count == 0) throw new ArgumentException(
            "--test-split: no test examples; give --test-data or a --test-split above 0 that leaves at least one");
        AnsiConsole.MarkupLine($"[grey]{Markup.Escape(prepared.Report.ToString())}[/]");
        var train = s.Train with { LearningRate = s.LearningRate ?? prepared.Options.Preset.LearningRate(family) };
        var data = new ClassificationData<T>(splits.Train, splits.Validation.Count > 0 ? splits.Validation : null, collate);
        var report = ImdbRun.Train(prepared.Classifier, data, train);
        if (s.SaveTo is { } dir) FineTuning.Save(prepared, dir, images);
        var clock = Stopwatch.StartNew();
        var result = ImdbRun.Status($"Evaluating on {splits.Test.Count:N0} test examples", () =>
            Engine.Evaluate(prepared.Classifier, splits.Test, collate, batchSize: 64, step: report.Steps));
        return new ResultTable.Row(prepared.Options.Describe(), prepared.Report, result, report, clock.Elapsed.TotalSeconds);
    }

    private static void Describe<T>(DatasetSplits<T> splits)
    {
        AnsiConsole.MarkupLine(Markup.Escape(
            $"{splits.Labels.Count} classes ({splits.Labels}); {splits.Train.Count:N0} training, "
            + $"{splits.Validation.Count:N0} validation, {splits.Test.Count:N0} test examples"));
        if (splits.Skipped == 0) return;
        AnsiConsole.MarkupLine($"[yellow]skipped {splits.Skipped:N0} bad rows (--skip-bad-rows); the first:[/]");
        foreach (var reason in splits.SkipReasons) AnsiConsole.MarkupLine($"[yellow]  {Markup.Escape(reason)}[/]");
    }
}
