using System.CommandLine;
using System.Diagnostics;
using Finetune.App;
using Finetune.Kernels.Cpu;
using Finetune.Peft;
using Spectre.Console;

namespace Finetune.Cli.Commands;

/// <summary>The README's main job: MiniLM + LoRA on IMDB reviews with a small budget, then one table.</summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var steps = new Option<int>("--steps") { Description = "optimizer steps", DefaultValueFactory = _ => 300 };
        var batch = new Option<int>("--batch-size") { Description = "reviews per step", DefaultValueFactory = _ => 16 };
        var maxLength = new Option<int>("--max-length") { Description = "tokens per review", DefaultValueFactory = _ => 128 };
        var test = new Option<int>("--test-examples") { Description = "held-out test reviews to score", DefaultValueFactory = _ => 2000 };
        var method = new Option<string>("--method") { Description = CommonOptions.MethodHelp, DefaultValueFactory = _ => "lora" };
        var output = new Option<string?>("--output", "-o") { Description = "also write report.json, loss.png and the "
            + "trained weights here" };
        var device = CommonOptions.DeviceOption();
        var command = new Command("demo", "Fine-tune all-MiniLM-L6-v2 with LoRA on IMDB movie reviews (a few minutes on a CPU) "
            + "and print the result")
        {
            steps, batch, maxLength, test, method, output, device,
        };
        command.SetAction(r => CliErrors.Run(r, () =>
        {
            var clock = Stopwatch.StartNew();
            var fineTune = new FineTuneOptions
            {
                Method = PeftRegistry.Preset(r.GetValue(method)!).Name, Device = CommonOptions.SelectDevice(r, device),
            };
            OutputFolder.Check(r.GetValue(output));
            int maxTokens = CommonOptions.ValidMaxLength(r.GetValue(maxLength));
            var settings = new ImdbRun.Settings(
                fineTune,
                new Nn.Training.TrainOptions
                {
                    MaxSteps = CommonOptions.Positive(r.GetValue(steps), "--steps"),
                    BatchSize = CommonOptions.Positive(r.GetValue(batch), "--batch-size"),
                    LearningRate = fineTune.Preset.LearningRate(ModelFamily.Bert),
                    WarmupRatio = 0.1f,
                    OutputDirectory = r.GetValue(output),
                    RunName = fineTune.Describe(),
                    Device = fineTune.Device,
                },
                maxTokens, int.MaxValue, r.GetValue(test), 0, r.GetValue(output) is { } o ? Path.Combine(o, "model") : null);
            AnsiConsole.MarkupLine($"[bold]finetune demo[/]: {Markup.Escape(fineTune.Describe())} on IMDB, "
                + $"{settings.Train.MaxSteps} steps × {settings.Train.BatchSize} reviews, "
                + $"max {maxTokens} tokens, {ImdbRun.Where(fineTune.Device)}");
            var row = ImdbRun.Execute(settings);
            ResultTable.Print($"IMDB sentiment, all-MiniLM-L6-v2 — total {clock.Elapsed.TotalMinutes:F1} min", new[] { row });
            return 0;
        }));
        return command;
    }
}
