using System.CommandLine;
using Finetune.Nn.IO;
using Spectre.Console;

namespace Finetune.Cli.Commands;

/// <summary>A full IMDB fine-tuning run with every option, evaluation, checkpoints and resume.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var common = new CommonOptions();
        var epochs = new Option<int>("--epochs") { Description = "passes over the training reviews (ignored with --max-steps)",
            DefaultValueFactory = _ => 1 };
        var maxSteps = new Option<int?>("--max-steps") { Description = "optimizer steps" };
        var trainExamples = new Option<int>("--train-examples") { Description = "use the first N training reviews of the split",
            DefaultValueFactory = _ => 47_000 };
        var testExamples = new Option<int>("--test-examples") { Description = "held-out test reviews to score at the end",
            DefaultValueFactory = _ => 2000 };
        var validationExamples = new Option<int>("--validation-examples") { Description = "validation reviews for evaluation "
            + "during training (0: none)", DefaultValueFactory = _ => 500 };
        var evalEvery = new Option<int>("--eval-every") { Description = "evaluate on the validation reviews every N steps",
            DefaultValueFactory = _ => 0 };
        var patience = new Option<int?>("--early-stopping") { Description = "stop after N evaluations without improvement" };
        var accumulation = new Option<int>("--grad-accumulation") { Description = "micro-batches per optimizer step",
            DefaultValueFactory = _ => 1 };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "save a resumable checkpoint every N "
            + "steps (needs --output)", DefaultValueFactory = _ => 0 };
        var resume = new Option<string?>("--resume") { Description = "continue from a checkpoint directory (its settings must equal this " +
            "run's)" };
        var force = new Option<bool>("--force") { Description = "with --resume: continue even when the checkpoint's settings differ" };
        var baseModel = new Option<string?>("--model")
        {
            Description = "a Hugging Face model folder to start from (BERT, MiniLM, DistilBERT: config.json, model.safetensors, "
                + "tokenizer.json or vocab.txt); default: the packaged all-MiniLM-L6-v2",
        };
        var data = new DataOptions();
        var command = new Command("train",
            "Fine-tune all-MiniLM-L6-v2 (or --model DIR) on IMDB reviews, or on your own --data (a CSV/TSV/JSONL/Parquet file, "
            + "or a folder of image class folders), with any registered method (--method)")
        {
            epochs, maxSteps, trainExamples, testExamples, validationExamples, evalEvery, patience, accumulation, checkpointEvery, resume,
            force, baseModel,
        };
        common.AddTo(command);
        data.AddTo(command);
        command.SetAction(r => CliErrors.Run(r, () =>
        {
            // Every argument is checked before any work: a mistake costs a second, not a run.
            common.ApplyThreads(r);
            var method = common.FineTune(r) with { BaseModel = r.GetValue(baseModel) };
            if (method.BaseModel is { } folder && HfModelFolder.ModelType(folder) == "vit")
                throw new ArgumentException($"--model: '{folder}' holds a ViT; train fine-tunes a text encoder here");
            var output = r.GetValue(common.Output);
            OutputFolder.Check(output);
            int maxTokens = common.MaxTokens(r);
            if (r.GetValue(force) && r.GetValue(resume) is null) throw new ArgumentException("--force applies only with --resume");
            if (r.GetValue(resume) is { } from && !Directory.Exists(from))
                throw new DirectoryNotFoundException($"--resume: '{from}' is not a folder");
            var train = common.Train(r, method) with
            {
                Epochs = r.GetValue(epochs),
                MaxSteps = r.GetValue(maxSteps),
                EvalEvery = r.GetValue(evalEvery),
                EarlyStoppingPatience = r.GetValue(patience),
                GradientAccumulation = r.GetValue(accumulation),
                CheckpointEvery = r.GetValue(checkpointEvery),
                ResumeFrom = r.GetValue(resume),
                ForceResume = r.GetValue(force),
                RunSettings = CommonOptions.RunSettings(method, maxTokens, r.GetValue(common.Truncation)),
            };
            if (data.Files(r, r.GetValue(common.Seed)) is { } files)
            {
                var settings = new DataRun.Settings(method, train, r.GetValue(common.LearningRate), files, data.Columns(r),
                    maxTokens, r.GetValue(common.Truncation), output is null ? null : Path.Combine(output, "model"));
                var result = DataRun.Execute(settings, out var title);
                ResultTable.Print(title, new[] { result });
                if (output is not null) AnsiConsole.MarkupLine(
                    $"[grey]report, loss plot and weights in {Markup.Escape(output)}; "
                    + $"predict with: finetune predict --model {Markup.Escape(output)} --input FILE[/]");
                return 0;
            }
            var row = ImdbRun.Execute(new ImdbRun.Settings(method, train, maxTokens, r.GetValue(trainExamples),
                r.GetValue(testExamples), r.GetValue(validationExamples), output is null ? null : Path.Combine(output, "model"),
                r.GetValue(common.Truncation)));
            ResultTable.Print("IMDB sentiment, all-MiniLM-L6-v2", new[] { row });
            if (output is not null) AnsiConsole.MarkupLine($"[grey]report, loss plot and weights in {Markup.Escape(output)}[/]");
            return 0;
        }));
        return command;
    }
}
