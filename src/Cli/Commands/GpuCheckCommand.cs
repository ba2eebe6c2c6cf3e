using System.CommandLine;
using Finetune.App;

namespace Finetune.Cli.Commands;

/// <summary>Kernel parity against the CPU and kernel timings on a real GPU, as one table; non-zero exit on any mismatch.</summary>
internal static class GpuCheckCommand
{
    public static Command Create()
    {
        var scale = new Option<double>("--scale") { Description = "problem-size multiplier for the timed shapes",
            DefaultValueFactory = _ => 1.0 };
        var iterations = new Option<int>("--iterations") { Description = "timed launches per kernel", DefaultValueFactory = _ => 20 };
        var command = new Command("gpu-check", "Check every CUDA kernel against the CPU backend and time it "
            + "(needs an NVIDIA GPU)") { scale, iterations };
        command.SetAction(r => CliErrors.Run(r, () => GpuCheck.Run(Console.Out, null, r.GetValue(scale),
            CommonOptions.Positive(r.GetValue(iterations), "--iterations"))));
        return command;
    }
}
