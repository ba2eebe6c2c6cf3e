using System.Diagnostics;
using System.Globalization;
using Finetune.App;
using Finetune.Kernels;
using Finetune.Kernels.Cpu;
using Finetune.Kernels.Cuda;
using Finetune.Kernels.Profiling;

namespace Finetune.Bench;

/// <summary>
/// `bench profile-overhead`: what the kernel profiler costs a training step. One MiniLM LoRA step (the `lora` preset, batch
/// 8 × 128) is timed alternately without and with a <see cref="KernelProfiler"/> recording (module paths assigned, as
/// `finetune profile` runs it), in the same process, so both sides see the same machine; each side reports its median.
/// </summary>
public static class ProfileOverhead
{
    public static int Run(string[] args)
    {
        int reps = Arg(args, "--reps", 9), threads = Arg(args, "--threads", 2);
        int batch = Arg(args, "--batch", 8), seq = Arg(args, "--seq", 128);
        string method = args.SkipWhile(a => a != "--method").Skip(1).FirstOrDefault() ?? "lora";
        var device = DeviceSelection.Select(args.SkipWhile(a => a != "--device").Skip(1).FirstOrDefault() ?? "cpu");
        CpuParallel.Threads = threads;
        using var step = new TrainingStep(new FineTuneOptions { Method = method, Device = device }, batch, seq);
        step.Prepared.Model.AssignProfilePaths();
        for (int i = 0; i < 2; i++) step.Run(); // warm-up: optimizer state, JIT
        var plain = new List<double>();
        var profiled = new List<double>();
        int kernels = 0;
        for (int i = 0; i < reps; i++)
        {
            plain.Add(Seconds(step.Run));
            profiled.Add(Seconds(() =>
            {
                using var profiler = KernelProfiler.Start();
                step.Run();
                kernels = profiler.Records.Count;
            }));
        }
        double a = Median(plain), b = Median(profiled);
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv, $"MiniLM {method} training step, batch {batch} × {seq}, {device}, {threads} threads, "
            + $"median of {reps} alternating pairs"));
        Console.WriteLine();
        Console.WriteLine("| step without profiler (ms) | step with profiler (ms) | kernel calls recorded | overhead |");
        Console.WriteLine("|---:|---:|---:|---:|");
        Console.WriteLine(string.Create(inv, $"| {a * 1e3:F1} | {b * 1e3:F1} | {kernels} | {(b / a - 1) * 100:F1} % |"));
        Console.WriteLine();
        var pairs = plain.Zip(profiled, (p, q) => ((q / p - 1) * 100).ToString("F1", inv));
        Console.WriteLine($"pairwise overheads: {string.Join(", ", pairs)} %");
        return 0;
    }

    private static double Seconds(Action run)
    {
        long t0 = Stopwatch.GetTimestamp();
        run();
        return Stopwatch.GetElapsedTime(t0).TotalSeconds;
    }

    private static double Median(List<double> xs)
    {
        var s = xs.OrderBy(x => x).ToList();
        return s[s.Count / 2];
    }

    private static int Arg(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
