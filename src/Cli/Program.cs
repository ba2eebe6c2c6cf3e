using System.CommandLine;
using Finetune.Cli.Commands;

namespace Finetune.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("finetune: parameter-efficient fine-tuning on a hand-built C# engine");
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(EmbedCommand.Create());
        root.Subcommands.Add(PredictCommand.Create());
        root.Subcommands.Add(ExportCommand.Create());
        root.Subcommands.Add(GpuCheckCommand.Create());
        root.Subcommands.Add(PretrainVitCommand.Create());
        root.Subcommands.Add(CompareCommand.Create());
        root.Subcommands.Add(ProfileCommand.Create());
        root.Options.Add(CliErrors.Verbose);
        var result = root.Parse(args);
        // Parse errors of a verb's options are one line and exit 2, like every other user error.
        if (result.Errors.Count > 0 && result.CommandResult.Command != root) return CliErrors.ParseErrors(result);
        return result.Invoke();
    }
}
