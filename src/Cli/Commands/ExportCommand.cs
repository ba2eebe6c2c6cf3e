using System.CommandLine;
using Finetune.App;

namespace Finetune.Cli.Commands;

/// <summary><c>finetune export</c>: a saved run as Hugging Face files (PEFT adapter, or a merged plain model).</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "directory written by train/demo --output (or its model/ folder)",
            Required = true };
        var output = new Option<string>("--output", "-o") { Description = "folder to write", Required = true };
        var merge = new Option<bool>("--merge") { Description = "fold the adapter into the weights and write a plain " +
            "BertForSequenceClassification folder" };
        var command = new Command("export", "Write a fine-tuned run as Hugging Face files: the adapter in PEFT's layout, or with " +
            "--merge a plain model")
        {
            model, output, merge,
        };
        command.SetAction(r => CliErrors.Run(r, () =>
        {
            var dir = r.GetValue(model)!;
            if (Directory.Exists(Path.Combine(dir, "model"))) dir = Path.Combine(dir, "model");
            if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"--model: directory '{dir}' does not exist");
            var target = r.GetValue(output)!;
            HfExport.Run(dir, target, r.GetValue(merge));
            Console.Error.WriteLine(r.GetValue(merge)
                ? $"wrote a merged Hugging Face model (config.json, model.safetensors, tokenizer) to {target}"
                : $"wrote the adapter in PEFT's layout (adapter_config.json, adapter_model.safetensors) and the tokenizer to {target}");
            return 0;
        }));
        return command;
    }
}
