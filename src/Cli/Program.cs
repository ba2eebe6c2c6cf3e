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
        root.Subcommands.Add(GpuCheckCommand.Create());
        root.Subcommands.Add(PretrainVitCommand.Create());
        root.Subcommands.Add(CompareCommand.Create());
        return root.Parse(args).Invoke();
    }
}
