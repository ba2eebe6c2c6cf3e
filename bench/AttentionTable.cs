using System.Diagnostics;
using System.Globalization;
using Finetune.App;
using Finetune.Kernels;
using Finetune.Kernels.Cpu;

namespace Finetune.Bench;

/// <summary>
/// Fused attention against the composed ops in MiniLM (LoRA r 8 on query+value, attention dropout 0.1): the training step
/// and the eval forward at each batch × length, time and peak memory above the model. Rounds alternate fused and
/// composed so background load hits both; each keeps its best median and its lowest peak.
/// </summary>
public static class AttentionTable
{
    /// <summary>Median wall time, median CPU time of the process (what a step costs when the machine is shared: time spent
    /// descheduled does not count) and peak memory.</summary>
    private sealed record Cell(double Seconds, double CpuSeconds, long Peak)
    {
        public static Cell Best(Cell? a, Cell b) => a is null ? b
            : new(Math.Min(a.Seconds, b.Seconds), Math.Min(a.CpuSeconds, b.CpuSeconds), Math.Min(a.Peak, b.Peak));
    }

    public static int Run(string[] args)
    {
        int threads = Arg(args, "--threads", 2), reps = Arg(args, "--reps", 3), rounds = Arg(args, "--rounds", 2);
        int batch = Arg(args, "--batch", 8);
        var lengths = Array.IndexOf(args, "--seq") is int i and >= 0 && i + 1 < args.Length
            ? args[i + 1].Split(',').Select(int.Parse).ToArray()
            : new[] { 128, 512 };
        CpuParallel.Threads = threads;
        if (args.Contains("--op"))
        {
            foreach (int seq in lengths) OpRow(batch, seq, reps);
            return 0;
        }
        Console.WriteLine($"MiniLM-L6, fused vs composed attention on the CPU, {threads} threads, median of {reps} after 2 warm-up, best of "
            + $"{rounds} rounds; peak = the allocator's peak above what was allocated before the step");
        Console.WriteLine();
        Console.WriteLine("| measure | batch × seq | fused wall (ms) | composed wall (ms) | fused CPU (ms) | composed CPU (ms) | "
            + "composed / fused CPU | peak fused (MB) | peak composed (MB) | fused / composed peak |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (int seq in lengths)
        {
            var ids = Ids(batch, seq);
            Cell? stepFused = null, stepComposed = null, fwdFused = null, fwdComposed = null;
            for (int round = 0; round < rounds; round++)
            {
                stepFused = Cell.Best(stepFused, Measure(reps, m => StepTable.EngineStep(Options(false), ids, batch, seq, m)));
                stepComposed = Cell.Best(stepComposed, Measure(reps, m => StepTable.EngineStep(Options(true), ids, batch, seq, m)));
                fwdFused = Cell.Best(fwdFused, Measure(reps, m => StepTable.EngineForward(Device.Cpu, ids, batch, seq, m, true)));
                fwdComposed = Cell.Best(fwdComposed, Measure(reps, m => StepTable.EngineForward(Device.Cpu, ids, batch, seq, m, false)));
            }
            Row("LoRA training step", batch, seq, stepFused!, stepComposed!);
            Row("forward (eval, no grad)", batch, seq, fwdFused!, fwdComposed!);
        }
        return 0;
    }

    /// <summary>The op alone at MiniLM's shape (12 heads of 32), eval forward: fused against the composed ops.</summary>
    private static void OpRow(int batch, int seq, int reps)
    {
        var q = Tensor.Normal(new[] { batch, seq, 12, 32 }, 0f, 1f, new Generator(1)).Keep();
        var process = Process.GetCurrentProcess();
        double CpuMs(Func<Tensor> run)
        {
            using var scope = TensorScope.Begin();
            using var noGrad = GradMode.NoGrad();
            process.Refresh();
            var c0 = process.TotalProcessorTime;
            run();
            process.Refresh();
            return (process.TotalProcessorTime - c0).TotalMilliseconds;
        }
        Tensor Fused() => Tensor.Attention(q, q, q, null, 0.17f);
        Tensor Composed()
        {
            var h = q.Transpose(1, 2);
            return h.Matmul(h.Transpose(-1, -2)).ScaledMaskedSoftmax(0.17f).Matmul(h);
        }
        // Interleaved, so a burst of background load hits both; CPU time, so time spent descheduled does not count.
        var f = new List<double>();
        var c = new List<double>();
        for (int r = 0; r < reps + 1; r++)
        {
            double a = CpuMs(Fused), b = CpuMs(Composed);
            if (r == 0) continue;
            f.Add(a);
            c.Add(b);
        }
        f.Sort();
        c.Sort();
        double fused = f[f.Count / 2], composed = c[c.Count / 2];
        double flops = 4.0 * batch * 12 * seq * seq * 32;
        Console.WriteLine($"attention op {batch} × {seq}, 12 heads × 32, eval forward, CPU time: fused {fused:F1} ms "
            + $"({flops / fused / 1e6:F1} GFLOP/CPU-s), composed {composed:F1} ms ({flops / composed / 1e6:F1} GFLOP/CPU-s)");
        q.Dispose();
    }

    private static FineTuneOptions Options(bool composed) => new() { Method = "lora", UnfusedAttention = composed };

    private static void Row(string name, int batch, int seq, Cell fused, Cell composed) =>
        Console.WriteLine($"| {name} | {batch} × {seq} | {fused.Seconds * 1e3:F1} | {composed.Seconds * 1e3:F1} | "
            + $"{fused.CpuSeconds * 1e3:F1} | {composed.CpuSeconds * 1e3:F1} | {composed.CpuSeconds / fused.CpuSeconds:F2}× | "
            + $"{fused.Peak / 1e6:F1} | {composed.Peak / 1e6:F1} | {(double)fused.Peak / composed.Peak:F2}× |");

    /// <summary>Hands <paramref name="run"/> a measure that times <paramref name="reps"/> steps after two warm-ups and keeps
    /// the peak allocation above the memory held before each step.</summary>
    private static Cell Measure(int reps, Func<Func<Action, double>, double> run)
    {
        var cpu = CpuBackend.Instance;
        var process = Process.GetCurrentProcess();
        long peak = 0;
        var cpuTimes = new List<double>();
        double seconds = run(step =>
        {
            var times = new List<double>();
            for (int r = 0; r < reps + 2; r++)
            {
                long before = cpu.AllocatedBytes;
                cpu.ResetPeak();
                process.Refresh();
                var c0 = process.TotalProcessorTime;
                long t0 = Stopwatch.GetTimestamp();
                step();
                if (r < 2) continue; // warm-up: the optimizer's state is allocated in the first step
                times.Add(Stopwatch.GetElapsedTime(t0).TotalSeconds);
                process.Refresh();
                cpuTimes.Add((process.TotalProcessorTime - c0).TotalSeconds);
                peak = Math.Max(peak, cpu.PeakBytes - before);
            }
            times.Sort();
            return times[times.Count / 2];
        });
        cpuTimes.Sort();
        return new Cell(seconds, cpuTimes[cpuTimes.Count / 2], peak);
    }

    private static int[] Ids(int batch, int seq)
    {
        var rng = new Random(0);
        return Enumerable.Range(0, batch * seq).Select(_ => rng.Next(1000, 20000)).ToArray();
    }

    private static int Arg(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
