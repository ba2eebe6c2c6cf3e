using System.CommandLine;
using System.Text;
using Finetune.Nn;
using Finetune.Nn.IO;
using Finetune.App;

namespace Finetune.Cli.Commands;

/// <summary>
/// The predicted class and the class probabilities of each line, CSV row or JSONL record of a file, from a run of
/// train --data, written in the input's format.
/// </summary>
internal static class PredictCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model")
        {
            Description = "directory written by train --data --output (or its model/ folder)", Required = true,
        };
        var input = new Option<string>("--input", "-i")
        {
            Description = "a text file (one text, or for an image run one image path, per line), or a .csv, .tsv or .jsonl file "
                + "with the run's text column(s) or an 'image' column of paths",
            Required = true,
        };
        var output = new Option<string?>("--output", "-o")
        {
            Description = "where to write the predictions, in the input's format (default: standard output)",
        };
        var batch = new Option<int>("--batch-size") { Description = "texts or images per forward pass", DefaultValueFactory = _ => 32 };
        var skip = new Option<bool>("--skip-bad-rows")
        {
            Description = "skip and count bad rows (no text, a missing or undecodable image) instead of stopping",
        };
        var command = new Command("predict", "Classify each line, CSV row or JSONL record of a file with a run of train --data")
        {
            model, input, output, batch, skip,
        };
        command.SetAction(r => CliErrors.Run(r, () =>
        {
            var dir = r.GetValue(model)!;
            if (Directory.Exists(Path.Combine(dir, "model"))) dir = Path.Combine(dir, "model");
            if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"--model: directory '{dir}' does not exist");
            var inputPath = r.GetValue(input)!;
            if (!File.Exists(inputPath)) throw new FileNotFoundException($"--input: file '{inputPath}' does not exist", inputPath);
            int batchSize = CommonOptions.Positive(r.GetValue(batch), "--batch-size");
            var options = FineTuning.ReadOptions(dir);
            var data = options.Data ?? throw new ArgumentException(
                $"--model: '{dir}' was not trained with train --data (its {FineTuning.RunFile} names no dataset)");
            using var prepared = FineTuning.Load(dir);
            var text = new StringWriter { NewLine = "\n" };
            int predicted, skipped;
            if (data.Kind == DataKind.Image)
            {
                var processor = ImageProcessorConfig.Load(dir, ((VitForImageClassification)prepared.Model).Vit.Config);
                (predicted, skipped) = FilePrediction.Images(prepared, processor, inputPath, text, r.GetValue(skip), batchSize);
            }
            else
            {
                var tokenizer = FineTuning.TextTokenizer(prepared.Options, data.MaxLength);
                tokenizer.Truncation = data.Truncation;
                (predicted, skipped) = FilePrediction.Text(prepared, tokenizer, inputPath, text, r.GetValue(skip), batchSize);
            }
            if (r.GetValue(output) is { } outPath)
            {
                AtomicFile.WriteAllText(outPath, text.ToString());
                Console.Error.WriteLine($"wrote {predicted:N0} predictions to {outPath}" + (skipped > 0
                    ? $" ({skipped:N0} bad rows skipped)" : ""));
            }
            else
            {
                var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false));
                stdout.Write(text.ToString());
                stdout.Flush();
                if (skipped > 0) Console.Error.WriteLine($"{skipped:N0} bad rows skipped");
            }
            return 0;
        }));
        return command;
    }
}
