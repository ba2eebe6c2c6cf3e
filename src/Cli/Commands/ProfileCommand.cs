using System.CommandLine;
using System.Diagnostics;
using Finetune.App;
using Finetune.App.Reporting;
using Finetune.Kernels;
using Finetune.Kernels.Cpu;
using Finetune.Kernels.Profiling;
using Finetune.Nn.IO;
using Finetune.Peft;

namespace Finetune.Cli.Commands;

/// <summary>
/// Profiles MiniLM training steps with a method: cost per module (forward and backward kernels under the module's path) and
/// per kernel against this machine's roofline; writes a Chrome/Perfetto trace and a PNG of where the step's time goes.
/// </summary>
internal static class ProfileCommand
{
    public static Command Create()
    {
        var method = new Option<string>("--method") { Description = CommonOptions.MethodHelp, DefaultValueFactory = _ => "lora" };
        var unfused = new Option<bool>("--unfused")
        {
            Description = "LoRA, adapters and GEMM epilogues as composed ops instead of the fused kernels",
        };
        var unfusedAttention = new Option<bool>("--unfused-attention")
        {
            Description = "self-attention as composed ops instead of the fused kernel",
        };
        var steps = new Option<int>("--steps") { Description = "steps to run; the last one is profiled", DefaultValueFactory = _ => 3 };
        var batch = new Option<int>("--batch-size") { Description = "examples per step", DefaultValueFactory = _ => 8 };
        var seq = new Option<int>("--max-length") { Description = "tokens per example", DefaultValueFactory = _ => 128 };
        var threads = new Option<int>("--threads") { Description = "CPU threads", DefaultValueFactory = _ => Environment.ProcessorCount };
        var output = new Option<string>("--output", "-o") { Description = "directory for profile.trace.json and profile.png",
            DefaultValueFactory = _ => "profile" };
        var device = CommonOptions.DeviceOption();
        var command = new Command("profile", "Profile MiniLM training steps: cost per module and per kernel, a trace and a plot")
            { method, unfused, unfusedAttention, steps, batch, seq, threads, output, device };
        command.SetAction(r => CliErrors.Run(r, () =>
        {
            CpuParallel.Threads = CommonOptions.Positive(r.GetValue(threads), "--threads");
            int n = CommonOptions.Positive(r.GetValue(steps), "--steps");
            var options = new FineTuneOptions
            {
                Method = PeftRegistry.Preset(r.GetValue(method)!).Name, Unfused = r.GetValue(unfused),
                UnfusedAttention = r.GetValue(unfusedAttention),
                Device = CommonOptions.SelectDevice(r, device),
            };
            using var step = new TrainingStep(options, CommonOptions.Positive(r.GetValue(batch), "--batch-size"),
                CommonOptions.ValidMaxLength(r.GetValue(seq)));
            step.Prepared.Model.AssignProfilePaths();
            for (int i = 1; i < n; i++) step.Run();
            var clock = Stopwatch.StartNew();
            List<KernelRecord> records;
            using (var profiler = KernelProfiler.Start())
            {
                step.Run();
                records = profiler.Records.ToList();
                clock.Stop();
                var dir = r.GetValue(output)!;
                Directory.CreateDirectory(dir);
                AtomicFile.WriteAllText(Path.Combine(dir, "profile.trace.json"), profiler.ToChromeTrace());
                string name = $"{options.Method}{(options.Unfused ? " (unfused)" : "")}"
                    + $"{(options.UnfusedAttention ? " (attention composed)" : "")} on {options.Device}, "
                    + $"batch {r.GetValue(batch)} × {r.GetValue(seq)}";
                ProfilePlot.Write(Path.Combine(dir, "profile.png"), records, $"MiniLM training step, {name}: time per module");
                Console.WriteLine($"step {n} of {name}: {clock.Elapsed.TotalMilliseconds:F1} ms wall, profiled");
                Console.WriteLine(ProfileReport.Format(records, Roofline.Measure(options.Device)));
                Console.WriteLine($"wrote {Path.Combine(dir, "profile.trace.json")} (open in https://ui.perfetto.dev) and "
                    + Path.Combine(dir, "profile.png"));
            }
            return 0;
        }));
        return command;
    }
}
