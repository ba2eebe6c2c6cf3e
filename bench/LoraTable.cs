using System.Diagnostics;
using System.Globalization;
using Finetune.Kernels.Cpu;
using Finetune.Kernels.Profiling;
using Finetune.Nn;
using Finetune.Nn.Optim;
using Finetune.Nn.Training;
using Finetune.App;
using Finetune.Peft;
using Finetune.Peft.Adapters;
using Finetune.Peft.Lora;

namespace Finetune.Bench;

/// <summary>
/// Fused LoRA (kernel version 2) against the composed ops (version 1) and a PyTorch peer that computes the layer as
/// Hugging Face PEFT does (bench/peers/lora_torch.py), all in one run: one LoRA Linear [tokens, h] → [tokens, h] with
/// the base frozen, x requiring grad and dropout 0.1; then one MiniLM LoRA training step fused and unfused, with time
/// and peak memory. Rounds interleave the three sides per row; each keeps its best median.
/// </summary>
public static class LoraTable
{
    /// <summary>--profile: print each measured layer's kernel profile.</summary>
    private static bool ShowProfile;

    /// <summary>--min: report the fastest repetition instead of the median (the least disturbed one on a loaded machine).</summary>
    private static bool UseMinimum;

    private static readonly (string Name, int Hidden)[] Shapes = { ("MiniLM", 384), ("BERT-base", 768), ("BERT-large", 1024) };

    public static int Run(string[] args)
    {
        int threads = Arg(args, "--threads", 2), reps = Arg(args, "--reps", 3), rounds = Arg(args, "--rounds", 2);
        bool quick = args.Contains("--quick"), peer = !args.Contains("--no-peer");
        string only = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault() ?? "all";
        float dropout = 0.1f;
        CpuParallel.Threads = threads;
        BenchClock.CpuTime = args.Contains("--cpu-time");
        if (BenchClock.CpuTime && threads != 1)
        {
            Console.Error.WriteLine("lora: --cpu-time needs --threads 1");
            return 2;
        }
        ShowProfile = args.Contains("--profile");
        UseMinimum = args.Contains("--min");
        int[] tokens = quick ? new[] { 1024, 2048 } : new[] { 1024, 2048, 4096, 8192 };
        int[] ranks = quick ? new[] { 8, 16 } : new[] { 8, 16, 64 };
        var shapes = quick ? Shapes[..2] : Shapes;
        if (args.Contains("--kernels") && args.Contains("--versions"))
            return LoraKernelTable.Versions(shapes.Select(s => s.Hidden).ToArray(), tokens, ranks, Math.Max(reps, 20),
                Arg(args, "--threads", 1));
        if (args.Contains("--kernels"))
            return LoraKernelTable.Run(shapes.Select(s => s.Hidden).ToArray(), tokens, ranks, Math.Max(reps, 20),
                Arg(args, "--threads", 1));
        if (only is "all" or "layer") LayerTable(shapes, tokens, ranks, dropout, threads, reps, rounds, peer);
        if (only is "all" or "qkv") QkvTable(shapes, tokens, ranks, dropout, threads, reps, rounds);
        if (only is "all" or "adapter") AdapterTable(shapes, tokens, threads, reps, rounds);
        if (only is "all" or "step") StepRows(threads, reps, rounds);
        return 0;
    }

    private static void LayerTable((string Name, int Hidden)[] shapes, int[] tokens, int[] ranks, float dropout, int threads, int reps, int rounds, bool peer)
    {
        using var torch = peer ? TorchPeer.Start("lora_torch.py", threads) : null;
        Console.WriteLine($"LoRA Linear h→h, dropout {dropout}, x requires grad, base frozen; {threads} threads, {Clock}, "
            + $"{(UseMinimum ? "minimum" : "median")} of {reps}, best of {rounds} rounds (ms)");
        Console.WriteLine($"peer: {torch?.Describe() ?? "disabled with --no-peer"}");
        Console.WriteLine();
        Console.WriteLine("| shape | tokens | r | fwd fused | fwd unfused | fwd torch | bwd fused | bwd unfused | bwd torch | "
            + "f+b fused | f+b unfused | f+b torch | unfused/fused | torch/fused | MB fused | MB unfused |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var (name, h) in shapes)
            foreach (int t in tokens)
                foreach (int r in ranks)
                {
                    Timing? fused = null, unfused = null, theirs = null;
                    for (int round = 0; round < rounds; round++)
                    {
                        fused = Timing.Best(fused, MeasureLayer(h, t, r, dropout, true, reps));
                        unfused = Timing.Best(unfused, MeasureLayer(h, t, r, dropout, false, reps));
                        if (torch is { Ok: true } && torch.Ask(new { tokens = t, hidden = h, rank = r, dropout, reps }) is { } a)
                            theirs = Timing.Best(theirs, new Timing(a["fwd_ms"]!.GetValue<double>(), a["bwd_ms"]!.GetValue<double>(),
                                a["step_ms"]!.GetValue<double>(), 0, 0));
                    }
                    string T(double? v) => v is { } x ? x.ToString("F2", CultureInfo.InvariantCulture) : "n/a";
                    string R(double? a, double b) => a is { } x ? $"{x / b:F2}×" : "n/a";
                    Console.WriteLine($"| {name} {h} | {t} | {r} | {T(fused!.Fwd)} | {T(unfused!.Fwd)} | {T(theirs?.Fwd)} | {T(fused.Bwd)} | {T(unfused.Bwd)} | "
                        + $"{T(theirs?.Bwd)} | {T(fused.Step)} | {T(unfused.Step)} | {T(theirs?.Step)} | {R(unfused.Step, fused.Step)} | "
                        + $"{R(theirs?.Step, fused.Step)} | {fused.Bytes / 1e6:F1} | {unfused.Bytes / 1e6:F1} |");
                }
        Console.WriteLine();
        Console.WriteLine("MB: bytes the kernels read and write in one forward + backward, from the kernel profiler's per-kernel counts.");
    }

    /// <summary>Milliseconds (medians) and the bytes one forward + backward moves.</summary>
    private sealed record Timing(double Fwd, double Bwd, double Step, double FwdBytes, double BwdBytes)
    {
        public double Bytes => FwdBytes + BwdBytes;

        public static Timing Best(Timing? a, Timing b) => a is null ? b
            : new(Math.Min(a.Fwd, b.Fwd), Math.Min(a.Bwd, b.Bwd), Math.Min(a.Step, b.Step), b.FwdBytes, b.BwdBytes);
    }

    private static Timing MeasureLayer(int h, int tokens, int rank, float dropout, bool fused, int reps)
    {
        var g = new Generator(1);
        using var layer = new LoraLinear(new Linear(h, h, true, g), rank, 16f / rank, dropout, new Generator(2)) { Fused = fused };
        using (var b = Tensor.Normal(new[] { h, rank }, 0f, 0.02f, g)) layer.LoraB.Weight.CopyFrom(b);
        using var x = Tensor.Normal(new[] { tokens, h }, 0f, 1f, g);
        x.RequiresGrad = true;
        using var dy = Tensor.Normal(new[] { tokens, h }, 0f, 1f, g);
        return Measure(() => layer.Forward(x), dy, () =>
        {
            x.ZeroGrad();
            layer.ZeroGrad();
        }, reps, $"{(fused ? "fused" : "unfused")} h {h}, tokens {tokens}, r {rank}");
    }

    /// <summary>Median forward, backward and both over <paramref name="reps"/> (after one warm-up), and one profiled run's bytes.</summary>
    private static Timing Measure(Func<Tensor> forward, Tensor dy, Action zeroGrads, int reps, string? what = null)
    {
        var fwd = new List<double>();
        var bwd = new List<double>();
        var step = new List<double>();
        for (int i = 0; i < reps + 1; i++)
        {
            using var scope = TensorScope.Begin();
            double t0 = BenchClock.Now();
            var y = forward();
            double t1 = BenchClock.Now();
            y.Backward(dy);
            double t2 = BenchClock.Now();
            zeroGrads();
            if (i == 0) continue; // warm-up
            fwd.Add((t1 - t0) * 1e3);
            bwd.Add((t2 - t1) * 1e3);
            step.Add((t2 - t0) * 1e3);
        }
        double fwdBytes, bwdBytes;
        using (var scope = TensorScope.Begin())
        using (var profiler = KernelProfiler.Start())
        {
            var y = forward();
            fwdBytes = profiler.Records.Sum(r => r.Bytes);
            y.Backward(dy);
            bwdBytes = profiler.Records.Sum(r => r.Bytes) - fwdBytes;
            zeroGrads();
            if (ShowProfile) Console.WriteLine($"{what}:\n{profiler.Summary(12)}");
        }
        return new Timing(Typical(fwd), Typical(bwd), Typical(step), fwdBytes, bwdBytes);
    }

    /// <summary>
    /// LoRA on query, key and value of one x: the fused QKV op against three fused layers and three composed layers, forward
    /// and backward of the sum of the three outputs (two adds, the same in every path).
    /// </summary>
    private static void QkvTable((string Name, int Hidden)[] shapes, int[] tokens, int[] ranks, float dropout, int threads, int reps,
        int rounds)
    {
        Console.WriteLine();
        Console.WriteLine($"LoRA on query, key and value of one x (h→h each), dropout {dropout}, x requires grad; {threads} threads, "
            + $"{Clock}, {(UseMinimum ? "minimum" : "median")} of {reps}, best of {rounds} rounds (ms)");
        Console.WriteLine();
        Console.WriteLine("| shape | tokens | r | f+b QKV op | f+b 3 fused layers | f+b 3 unfused layers | 3 fused / QKV | "
            + "3 unfused / QKV | MB QKV | MB 3 fused |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var (name, h) in shapes)
            foreach (int t in tokens)
                foreach (int r in ranks)
                {
                    Timing? qkv = null, three = null, composed = null;
                    for (int round = 0; round < rounds; round++)
                    {
                        qkv = Timing.Best(qkv, MeasureQkv(h, t, r, dropout, 0, reps));
                        three = Timing.Best(three, MeasureQkv(h, t, r, dropout, 1, reps));
                        composed = Timing.Best(composed, MeasureQkv(h, t, r, dropout, 2, reps));
                    }
                    Console.WriteLine($"| {name} {h} | {t} | {r} | {qkv!.Step:F2} | {three!.Step:F2} | {composed!.Step:F2} | "
                        + $"{three.Step / qkv.Step:F2}× | {composed.Step / qkv.Step:F2}× | {qkv.Bytes / 1e6:F1} | "
                        + $"{three.Bytes / 1e6:F1} |");
                }
    }

    /// <summary>path 0: the QKV op; 1: three fused layers; 2: three composed layers.</summary>
    private static Timing MeasureQkv(int h, int tokens, int rank, float dropout, int path, int reps)
    {
        var g = new Generator(1);
        var shared = new Generator(2);
        var layers = Enumerable.Range(0, 3)
            .Select(_ => new LoraLinear(new Linear(h, h, true, g), rank, 16f / rank, dropout, shared) { Fused = path != 2 }).ToArray();
        foreach (var layer in layers)
            using (var b = Tensor.Normal(new[] { h, rank }, 0f, 0.02f, g)) layer.LoraB.Weight.CopyFrom(b);
        using var x = Tensor.Normal(new[] { tokens, h }, 0f, 1f, g);
        x.RequiresGrad = true;
        using var dy = Tensor.Normal(new[] { tokens, h }, 0f, 1f, g);
        try
        {
            return Measure(() =>
            {
                var ys = path == 0
                    ? Tensor.LoraQkv(x, layers[0].FusedProjection(x.Device)!, layers[1].FusedProjection(x.Device)!,
                        layers[2].FusedProjection(x.Device)!)
                    : layers.Select(l => l.Forward(x)).ToArray();
                return ys[0] + ys[1] + ys[2]; // two adds, the same in every path

            }, dy, () =>
            {
                x.ZeroGrad();
                foreach (var layer in layers) layer.ZeroGrad();
            }, reps);
        }
        finally
        {
            foreach (var layer in layers) layer.Dispose();
        }
    }

    /// <summary>The bottleneck adapter (reduction 16, ReLU, scale 4, parallel form) fused and composed, forward + backward.</summary>
    private static void AdapterTable((string Name, int Hidden)[] shapes, int[] tokens, int threads, int reps, int rounds)
    {
        Console.WriteLine();
        Console.WriteLine($"Bottleneck adapter h→h/16→h (ReLU, scale 4, parallel), x and the residual requiring grad; {threads} threads, "
            + $"median of {reps}, best of {rounds} rounds (ms)");
        Console.WriteLine();
        Console.WriteLine("| shape | tokens | fwd fused | fwd unfused | bwd fused | bwd unfused | f+b fused | f+b unfused | unfused/fused | MB fused | MB unfused |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var (name, h) in shapes)
            foreach (int t in tokens)
            {
                Timing? fused = null, unfused = null;
                for (int round = 0; round < rounds; round++)
                {
                    fused = Timing.Best(fused, MeasureAdapter(h, t, true, reps));
                    unfused = Timing.Best(unfused, MeasureAdapter(h, t, false, reps));
                }
                Console.WriteLine($"| {name} {h} | {t} | {fused!.Fwd:F2} | {unfused!.Fwd:F2} | {fused.Bwd:F2} | {unfused.Bwd:F2} | {fused.Step:F2} | "
                    + $"{unfused.Step:F2} | {unfused.Step / fused.Step:F2}× | {fused.Bytes / 1e6:F1} | {unfused.Bytes / 1e6:F1} |");
            }
    }

    private static Timing MeasureAdapter(int h, int tokens, bool fused, int reps)
    {
        var g = new Generator(1);
        using var adapter = new BottleneckAdapter(h, h / 16, parallel: true, 4f, "relu", g) { Fused = fused };
        using (var up = Tensor.Normal(new[] { h, h / 16 }, 0f, 0.02f, g)) adapter.Parameters().ElementAt(2).CopyFrom(up);
        using var x = Tensor.Normal(new[] { tokens, h }, 0f, 1f, g);
        using var residual = Tensor.Normal(new[] { tokens, h }, 0f, 1f, g);
        x.RequiresGrad = true;
        residual.RequiresGrad = true;
        using var dy = Tensor.Normal(new[] { tokens, h }, 0f, 1f, g);
        return Measure(() => adapter.Forward(x, residual), dy, () =>
        {
            x.ZeroGrad();
            residual.ZeroGrad();
            adapter.ZeroGrad();
        }, reps);
    }

    /// <summary>The MiniLM LoRA training step (preset "lora": r 8, dropout 0.1 on query and value), fused and unfused.</summary>
    private static void StepRows(int threads, int reps, int rounds)
    {
        const int batch = 8, seq = 128;
        var ids = new int[batch * seq];
        var rng = new Random(0);
        for (int i = 0; i < ids.Length; i++) ids[i] = rng.Next(1000, 20000);
        (double Seconds, long Peak)? fused = null, unfused = null;
        for (int round = 0; round < rounds; round++)
        {
            fused = Better(fused, Step(ids, batch, seq, false, reps));
            unfused = Better(unfused, Step(ids, batch, seq, true, reps));
        }
        Console.WriteLine();
        Console.WriteLine($"MiniLM LoRA training step (r 8, dropout 0.1, query+value), batch {batch} × {seq}, {threads} threads, median of {reps}, best of {rounds}");
        Console.WriteLine();
        Console.WriteLine("| path | step (ms) | peak memory above the model (MB) |");
        Console.WriteLine("|---|---:|---:|");
        Console.WriteLine($"| fused | {fused!.Value.Seconds * 1e3:F1} | {fused.Value.Peak / 1e6:F1} |");
        Console.WriteLine($"| unfused | {unfused!.Value.Seconds * 1e3:F1} | {unfused.Value.Peak / 1e6:F1} |");
        Console.WriteLine($"| unfused / fused | {unfused.Value.Seconds / fused.Value.Seconds:F2}× | {(double)unfused.Value.Peak / fused.Value.Peak:F2}× |");
    }

    private static (double, long) Better((double Seconds, long Peak)? a, (double Seconds, long Peak) b) =>
        a is null ? b : (Math.Min(a.Value.Seconds, b.Seconds), Math.Min(a.Value.Peak, b.Peak));

    private static (double Seconds, long Peak) Step(int[] ids, int batch, int seq, bool unfused, int reps)
    {
        var cpu = CpuBackend.Instance;
        long peak = 0;
        double seconds = StepTable.EngineStep(new FineTuneOptions { Method = "lora", Unfused = unfused }, ids, batch, seq, step =>
        {
            var times = new List<double>();
            for (int i = 0; i < reps + 2; i++)
            {
                long before = cpu.AllocatedBytes;
                cpu.ResetPeak();
                long t0 = Stopwatch.GetTimestamp();
                step();
                if (i < 2) continue; // warm-up (the optimizer's state is allocated in the first step)
                times.Add(Ms(Stopwatch.GetTimestamp() - t0) / 1e3);
                peak = Math.Max(peak, cpu.PeakBytes - before);
            }
            return Median(times);
        });
        return (seconds, peak);
    }

    private static string Clock => BenchClock.CpuTime ? "thread CPU time" : "wall time";

    private static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

    private static double Typical(List<double> xs) => UseMinimum ? xs.Min() : Median(xs);

    private static double Median(List<double> xs)
    {
        xs.Sort();
        return xs[xs.Count / 2];
    }

    private static int Arg(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
