using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Finetune.Kernels.Cpu;

namespace Finetune.Bench;

/// <summary>
/// Our SGEMM against PyTorch's (OpenBLAS) on the same shapes, same thread count, measured shape by shape in
/// the same run (the peer process stays alive), so background load hits both sides alike.
/// </summary>
public static unsafe class GemmTable
{
    /// <summary>One product, or <paramref name="Batch"/> independent ones (strided, as composed attention calls per head).</summary>
    public sealed record Shape(string Name, int M, int N, int K, bool TransA, bool TransB, int Batch = 1)
    {
        public string Dims => (Batch > 1 ? $"{Batch}× " : "") + $"{M}×{K} · {K}×{N}";
        public string Op => (TransA, TransB) switch { (false, false) => "NN", (false, true) => "NT", (true, false) => "TN", _ => "TT" };
        public double Flops => 2.0 * M * N * K * Batch;
    }

    /// <summary>The large-GEMM rate the small shapes are compared with.</summary>
    private static readonly Shape Large = new("large", 1024, 1024, 1024, false, false);

    public static IReadOnlyList<Shape> Shapes(bool quick, bool small = false)
    {
        var list = new List<Shape>();
        if (small)
        {
            // For tuning the unpacked small-problem path against the packed one.
            foreach (int s in new[] { 8, 16, 24, 32, 48, 64, 96, 128 })
                foreach (var (ta, tb) in new[] { (false, false), (false, true), (true, false) })
                    list.Add(new Shape("small", s, s, s, ta, tb));
            foreach (var (m, n, k) in new[] { (1, 384, 384), (2, 1536, 384), (4, 384, 1536), (8, 384, 384), (384, 4, 384), (197, 64, 64), (64, 197, 64) })
                foreach (var (ta, tb) in new[] { (false, false), (false, true) })
                    list.Add(new Shape("thin", m, n, k, ta, tb));
            // LoRA rank 8 at hidden 384, T = 1024: x·A, (x·A)·B and their backward.
            foreach (var (m, n, k, ta, tb) in new[] { (1024, 8, 384, false, false), (1024, 384, 8, false, false), (1024, 8, 384, false, true),
                         (1024, 384, 8, false, true), (384, 8, 1024, true, false), (8, 384, 1024, true, false) })
                list.Add(new Shape("lora r=8", m, n, k, ta, tb));
            // Composed attention per head, 96 heads × T = 128: S = Q·Kᵀ (and dP = dO·Vᵀ), O = P·V (and dQ = dS·K),
            // dV = Pᵀ·dO (and dK = dSᵀ·Q).
            foreach (int d in new[] { 32, 64 })
                foreach (var (what, m, n, k, ta, tb) in new[] { ("QKᵀ", 128, 128, d, false, true), ("PV", 128, d, 128, false, false),
                             ("PᵀdO", 128, d, 128, true, false) })
                    list.Add(new Shape($"attn d={d} {what}", m, n, k, ta, tb, Batch: 96));
            // Adapter bottleneck 24 at hidden 384, T = 1024: down X·Wd, up H·Wu, and backward dH, dWu, dX, dWd.
            foreach (var (what, m, n, k, ta, tb) in new[] { ("down", 1024, 24, 384, false, false), ("up", 1024, 384, 24, false, false),
                         ("dH", 1024, 24, 384, false, true), ("dWu", 24, 384, 1024, true, false), ("dX", 1024, 384, 24, false, true),
                         ("dWd", 384, 24, 1024, true, false) })
                list.Add(new Shape($"adapter {what}", m, n, k, ta, tb));
            return list;
        }
        foreach (int s in quick ? new[] { 256, 512, 1024 } : new[] { 256, 512, 1024, 1536, 2048 })
            list.Add(new Shape("square", s, s, s, false, false));
        // One BERT-base-like layer at hidden 384 / FFN 1536 (MiniLM): forward X·W, dX = dY·Wᵀ, dW = Xᵀ·dY.
        foreach (int t in quick ? new[] { 1024 } : new[] { 1024, 2048, 4096 })
            foreach (var (name, kin, nout) in new[] { ("qkv/out", 384, 384), ("ffn up", 384, 1536), ("ffn down", 1536, 384) })
            {
                list.Add(new Shape($"{name} fwd T={t}", t, nout, kin, false, false));
                list.Add(new Shape($"{name} dX T={t}", t, kin, nout, false, true));
                list.Add(new Shape($"{name} dW T={t}", kin, nout, t, true, false));
            }
        return list;
    }

    private static bool _cpuTime;
    private static int _rounds = 2;

    /// <summary>Seconds now: wall clock, or this thread's CPU time with --cpu-time (1 thread only).</summary>
    private static double Now() => BenchClock.Now();

    public static int Run(string[] args)
    {
        int threads = 2;
        bool quick = false, peer = true, small = false;
        string? only = null, compare = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--threads": threads = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--quick": quick = true; break;
                case "--small": small = true; break;
                case "--no-peer": peer = false; break;
                case "--peak": KernelPeak(); return 0;
                case "--cpu-time": _cpuTime = BenchClock.CpuTime = true; break;
                case "--rounds": _rounds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--compare": compare = args[++i]; break;
                case "--only": only = args[++i]; break;
                case "--kernel": GemmPacked.Kernel = GemmKernelInfo.Supported().Single(k => k.Name == args[i + 1]); i++; break;
                case "--kc": GemmPacked.KC = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--mc": GemmPacked.MC = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--nc": GemmPacked.NC = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--path": GemmPacked.SmallPath = ParsePath(args[++i]); break;
                default: Console.Error.WriteLine($"gemm: unknown option {args[i]}"); return 2;
            }
        }
        CpuParallel.Threads = threads;
        var shapes = Shapes(quick, small).Where(s => only == null || s.Name.Contains(only, StringComparison.OrdinalIgnoreCase) || s.Op == only || s.Dims.Contains(only)).ToList();

        // Small shapes are compared with the large-GEMM rate of the same run (the first row).
        if (compare != null) return Compare(small ? [Large, .. shapes] : shapes, compare, threads);
        using var torch = peer ? TorchPeer.Start("gemm_torch.py", threads) : null;
        if (_cpuTime && threads != 1) { Console.Error.WriteLine("gemm: --cpu-time needs --threads 1"); return 2; }
        Console.WriteLine($"CPU GEMM, float32 row-major, {threads} thread(s), {(_cpuTime ? "thread CPU time" : "wall time")}, best of {_rounds} medians; ours: {GemmPacked.Kernel} KC={GemmPacked.KC} MC={GemmPacked.MC} NC={GemmPacked.NC}");
        Console.WriteLine(torch is { Ok: true } ? $"peer: PyTorch {torch.Version} via {torch.Blas}" : $"peer: PyTorch unavailable ({torch?.Error ?? "disabled with --no-peer"})");
        // Small shapes are read against the large-GEMM rate of the same run.
        double large = small ? MeasureOurs(Large).GFlops : 0;
        if (small) Console.WriteLine($"large GEMM ({Large.Dims} NN): {large:F1} GFLOP/s; small path {(GemmPacked.SmallPath ? "on" : "off")}");
        Console.WriteLine();
        string header = $"| {"shape",-22} | {"m×k · k×n",-26} | {"op",-2} | {"ours GFLOP/s",12} | {"PyTorch GFLOP/s",15} | {"ours/PyTorch",12} |"
            + (small ? " of large |" : "");
        Console.WriteLine(header);
        Console.WriteLine($"|{new string('-', 24)}|{new string('-', 28)}|----|{new string('-', 14)}|{new string('-', 17)}|{new string('-', 14)}|"
            + (small ? "----------|" : ""));
        var ratios = new List<double>();
        foreach (var s in shapes)
        {
            // Two rounds each, interleaved (ours, peer, ours, peer); each side keeps its better median, so a burst
            // of background load does not land on one side only.
            var (ours, reps) = MeasureOurs(s);
            double? theirs = torch is { Ok: true } ? Measure(torch, s, reps) : null;
            for (int round = 1; round < _rounds; round++)
            {
                ours = Math.Max(ours, MeasureOurs(s, reps).GFlops);
                if (theirs is { } before && Measure(torch!, s, reps) is { } now) theirs = Math.Max(before, now);
            }
            string ratio = theirs is > 0 ? $"{ours / theirs.Value:F2}×" : "n/a";
            if (theirs is > 0) ratios.Add(ours / theirs.Value);
            Console.WriteLine($"| {s.Name,-22} | {s.Dims,-26} | {s.Op,-2} | {ours,12:F1} | {(theirs is { } t ? t.ToString("F1", CultureInfo.InvariantCulture) : "n/a"),15} | {ratio,12} |"
                + (small ? $" {ours / large,8:P0} |" : ""));
        }
        if (ratios.Count > 0)
        {
            double geo = Math.Exp(ratios.Average(Math.Log));
            Console.WriteLine();
            Console.WriteLine($"geometric mean ours/PyTorch: {geo:F2}×  (min {ratios.Min():F2}×, max {ratios.Max():F2}×)");
        }
        return 0;
    }

    /// <summary>
    /// A/B experiment: configurations like "kc=256;kc=512,mc=96;kernel=avx2" measured interleaved shape by shape
    /// (best median of --rounds each), so drifting background load hits every column alike.
    /// </summary>
    private static int Compare(List<Shape> shapes, string spec, int threads)
    {
        var configs = spec.Split(';').Select(c => c.Trim()).ToList();
        void Apply(string config)
        {
            GemmPacked.KC = 512; GemmPacked.MC = 128; GemmPacked.SmallWork = 16 * 16 * 16; CpuParallel.Threads = threads; GemmPacked.NC = 4096; GemmPacked.Kernel = GemmKernelInfo.Best;
            GemmPacked.SmallPath = true; GemmPacked.SmallMaxK = 1024; GemmPacked.TinyWork = 8 * 8 * 8; GemmPacked.SmallDim = 64; GemmSmall.ParallelWork = 1L << 19;
            foreach (var kv in config.Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                var parts = kv.Split('=');
                switch (parts[0])
                {
                    case "threads": CpuParallel.Threads = int.Parse(parts[1], CultureInfo.InvariantCulture); break;
                    case "small": GemmPacked.SmallWork = long.Parse(parts[1], CultureInfo.InvariantCulture); break;
                    case "kc": GemmPacked.KC = int.Parse(parts[1], CultureInfo.InvariantCulture); break;
                    case "mc": GemmPacked.MC = int.Parse(parts[1], CultureInfo.InvariantCulture); break;
                    case "nc": GemmPacked.NC = int.Parse(parts[1], CultureInfo.InvariantCulture); break;
                    case "kernel": GemmPacked.Kernel = GemmKernelInfo.Supported().Single(k => k.Name == parts[1]); break;
                    case "path": GemmPacked.SmallPath = ParsePath(parts[1]); break;
                    case "maxk": GemmPacked.SmallMaxK = int.Parse(parts[1], CultureInfo.InvariantCulture); break;
                    case "dim": GemmPacked.SmallDim = int.Parse(parts[1], CultureInfo.InvariantCulture); break;
                    case "par": GemmSmall.ParallelWork = long.Parse(parts[1], CultureInfo.InvariantCulture); break;
                    default: throw new ArgumentException($"unknown setting {kv}");
                }
            }
        }
        Console.WriteLine($"A/B, {threads} thread(s), {(_cpuTime ? "thread CPU time" : "wall time")}, best of {_rounds} medians, GFLOP/s");
        Console.WriteLine($"| {"shape",-22} | {"op",-2} | " + string.Join(" | ", configs.Select(c => $"{c,14}")) + " |");
        var logs = new double[configs.Count];
        foreach (var s in shapes)
        {
            var best = new double[configs.Count];
            int reps = 0;
            for (int round = 0; round < _rounds; round++)
                for (int ci = 0; ci < configs.Count; ci++)
                {
                    Apply(configs[ci]);
                    var (g, r) = MeasureOurs(s, reps);
                    reps = r;
                    best[ci] = Math.Max(best[ci], g);
                }
            for (int ci = 0; ci < configs.Count; ci++) logs[ci] += Math.Log(best[ci]);
            Console.WriteLine($"| {s.Name,-10} {s.M,4}x{s.N,4}x{s.K,4} | {s.Op,-2} | " + string.Join(" | ", best.Select(b => $"{b,14:F1}")) + " |");
        }
        Console.WriteLine($"| {"geometric mean",-22} |    | " + string.Join(" | ", logs.Select(l => $"{Math.Exp(l / shapes.Count),14:F1}")) + " |");
        return 0;
    }

    /// <summary>Single-thread GFLOP/s of each micro-kernel on L1-resident panels: the ceiling the blocking tries to reach.</summary>
    private static void KernelPeak()
    {
        const int kc = 256;
        foreach (var kern in GemmKernelInfo.Supported())
        {
            float* a = Alloc(kc * kern.Mr), b = Alloc(kc * kern.Nr), c = Alloc(kern.Mr * kern.Nr);
            for (int i = 0; i < kc * kern.Mr; i++) a[i] = 1e-3f * (i % 7);
            for (int i = 0; i < kc * kern.Nr; i++) b[i] = 1e-3f * (i % 5);
            var body = kern.Body;
            double best = 0;
            for (int round = 0; round < 5; round++)
            {
                const int calls = 20000;
                long t0 = Stopwatch.GetTimestamp();
                for (int i = 0; i < calls; i++) body(kc, a, b, c, kern.Nr, 1f, 1f);
                double s = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                best = Math.Max(best, 2.0 * kc * kern.Mr * kern.Nr * calls / s / 1e9);
            }
            Console.WriteLine($"{kern,-16} {best,8:F1} GFLOP/s (1 thread, kc={kc}, panels in L1)");
            NativeMemory.AlignedFree(a); NativeMemory.AlignedFree(b); NativeMemory.AlignedFree(c);
        }
    }

    /// <summary>Median GFLOP/s over enough repetitions to fill about a quarter second.</summary>
    private static (double GFlops, int Reps) MeasureOurs(Shape s, int reps = 0)
    {
        long sizeA = (long)s.M * s.K, sizeB = (long)s.K * s.N, sizeC = (long)s.M * s.N;
        float* a = Alloc(sizeA * s.Batch), b = Alloc(sizeB * s.Batch), c = Alloc(sizeC * s.Batch);
        try
        {
            var rng = new Random(0);
            for (long i = 0; i < sizeA * s.Batch; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
            for (long i = 0; i < sizeB * s.Batch; i++) b[i] = (float)(rng.NextDouble() * 2 - 1);
            int lda = s.TransA ? s.M : s.K, ldb = s.TransB ? s.K : s.N;
            void Once() => GemmPacked.Sgemm(s.TransA, s.TransB, s.M, s.N, s.K, 1f, a, lda, sizeA, b, ldb, sizeB, 0f, c, s.N, sizeC, s.Batch);
            double w0 = Now();
            for (int i = 0; i < 3; i++) Once();
            double one = (Now() - w0) / 3;
            // Tiny problems are timed in groups so the clock's own cost (a syscall for thread CPU time) does not count.
            int group = Math.Max(1, (int)(200e-6 / Math.Max(one, 1e-9)));
            if (reps == 0) reps = Math.Clamp((int)(0.25 / Math.Max(one * group, 1e-6)), 5, 50);
            var times = new double[reps];
            for (int r = 0; r < reps; r++)
            {
                double t0 = Now();
                for (int g = 0; g < group; g++) Once();
                times[r] = (Now() - t0) / group;
            }
            Array.Sort(times);
            return (s.Flops / times[reps / 2] / 1e9, reps);
        }
        finally
        {
            NativeMemory.AlignedFree(a);
            NativeMemory.AlignedFree(b);
            NativeMemory.AlignedFree(c);
        }
    }

    private static bool ParsePath(string path) => path switch
    {
        "small" => true,
        "packed" => false,
        _ => throw new ArgumentException($"gemm: --path takes small or packed, got {path}"),
    };

    private static float* Alloc(long n) => (float*)NativeMemory.AlignedAlloc((nuint)(n * sizeof(float)), 64);

    private static double? Measure(TorchPeer torch, Shape s, int reps) =>
        torch.Ask(new { m = s.M, n = s.N, k = s.K, transA = s.TransA, transB = s.TransB, batch = s.Batch, reps })?["gflops"]?.GetValue<double>();
}
