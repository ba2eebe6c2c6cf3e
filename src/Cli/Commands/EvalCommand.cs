using System.CommandLine;
using System.Diagnostics;
using Finetune.App;
using Finetune.Kernels.Cpu;
using Finetune.Nn.Data;
using Finetune.Nn.Text;

namespace Finetune.Cli.Commands;

/// <summary>Scores a saved run (the model directory that train and demo write) on a split of the IMDB reviews.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "directory written by train/demo --output (its model/ folder)",
            Required = true };
        var split = new Option<string>("--split") { Description = "test | validation", DefaultValueFactory = _ => "test" };
        var examples = new Option<int>("--examples") { Description = "reviews to score", DefaultValueFactory = _ => 2000 };
        var maxLength = new Option<int>("--max-length") { Description = "tokens per review", DefaultValueFactory = _ => 256 };
        var truncation = CommonOptions.TruncationOption();
        var device = CommonOptions.DeviceOption();
        var command = new Command("eval", "Evaluate a fine-tuned model on IMDB reviews")
        {
            model, split, examples, maxLength, truncation, device,
        };
        command.SetAction(r => CliErrors.Run(r, () =>
        {
            var dir = r.GetValue(model)!;
            if (Directory.Exists(Path.Combine(dir, "model"))) dir = Path.Combine(dir, "model");
            if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"--model: directory '{dir}' does not exist");
            var which = r.GetValue(split);
            var all = ImdbReviews.LoadSplit();
            var reviews = which switch
            {
                "test" => all.Test,
                "validation" => all.Validation,
                _ => throw new ArgumentException($"--split must be test or validation, got '{which}'"),
            };
            reviews = ImdbRun.Take(reviews, r.GetValue(examples), "--examples");
            var on = CommonOptions.SelectDevice(r, device);
            using var prepared = FineTuning.LoadMiniLm(dir, on);
            var tokenizer = FineTuning.TextTokenizer(prepared.Options, CommonOptions.ValidMaxLength(r.GetValue(maxLength)));
            tokenizer.Truncation = r.GetValue(truncation);
            var clock = Stopwatch.StartNew();
            var result = ImdbRun.Status($"Evaluating on {reviews.Count:N0} {which} reviews, {ImdbRun.Where(on)}", () =>
                Engine.Evaluate(prepared.Classifier, reviews, items => TextClassification.Collate(tokenizer, items, on), 64));
            ResultTable.Print($"IMDB {which}", new[] { new ResultTable.Row(prepared.Options.Describe(), prepared.Report, result, null,
                clock.Elapsed.TotalSeconds) });
            return 0;
        }));
        return command;
    }
}
