using System.Diagnostics;
using Finetune.Kernels;
using Finetune.Kernels.Cpu;

namespace Finetune.Bench;

/// <summary>
/// One MiniLM layer's fused projections against the composed ops at batch 8 × 128 tokens: the FFN up-projection with GELU
/// and the FFN down-projection with bias, dropout 0.1 and the residual, forward alone and forward + backward. Timed in
/// process CPU time (robust to other jobs on a shared machine; use --threads 1 for clean numbers), fused and composed
/// alternating; each side keeps its best median.
/// </summary>
public static class EpilogueTable
{
    public static int Run(string[] args)
    {
        int reps = Arg(args, "--reps", 7), rounds = Arg(args, "--rounds", 3);
        int threads = Arg(args, "--threads", 1), tokens = Arg(args, "--tokens", 1024);
        CpuParallel.Threads = threads;
        Console.WriteLine($"GEMM epilogues, {tokens} tokens, {threads} thread(s), CPU ms per call (median of {reps}, "
            + $"best of {rounds} rounds)");
        Console.WriteLine("| layer | pass | fused ms | composed ms | composed / fused |");
        Console.WriteLine("|---|---|---|---|---|");
        var layers = new[]
        {
            ("ffn up + GELU", 384, 1536, true), ("ffn down + dropout + residual", 1536, 384, false),
            ("attention out + dropout + residual", 384, 384, false),
        };
        foreach (var (name, inF, outF, gelu) in layers)
            foreach (bool backward in new[] { false, true })
            {
                double fused = double.MaxValue, composed = double.MaxValue;
                for (int r = 0; r < rounds; r++)
                {
                    fused = Math.Min(fused, Measure(tokens, inF, outF, gelu, true, backward, reps));
                    composed = Math.Min(composed, Measure(tokens, inF, outF, gelu, false, backward, reps));
                }
                Console.WriteLine($"| {name} [{tokens}×{inF}]→{outF} | {(backward ? "fwd+bwd" : "fwd")} | {fused:F2} | {composed:F2} | "
                    + $"{composed / fused:F2}× |");
            }
        return 0;
    }

    private static double Measure(int tokens, int inF, int outF, bool gelu, bool fused, bool backward, int reps)
    {
        using var outer = TensorScope.Begin();
        var x = Tensor.Uniform(new[] { tokens, inF }, -1f, 1f, new Generator(1));
        var w = Tensor.Uniform(new[] { outF, inF }, -0.05f, 0.05f, new Generator(2));
        var b = Tensor.Uniform(new[] { outF }, -0.1f, 0.1f, new Generator(3));
        var res = gelu ? null : Tensor.Uniform(new[] { tokens, outF }, -1f, 1f, new Generator(4));
        var g = Tensor.Uniform(new[] { tokens, outF }, -1f, 1f, new Generator(5));
        x.RequiresGrad = w.RequiresGrad = b.RequiresGrad = backward;
        float p = gelu ? 0f : 0.1f;
        var dropout = new Generator(6);
        void Once()
        {
            using var scope = TensorScope.Begin();
            Tensor y;
            if (fused)
                y = Tensor.LinearEpilogue(x, w, b, gelu ? EpilogueActivation.GeluErf : EpilogueActivation.None, p, dropout, res);
            else
            {
                var z = Tensor.Linear(x, w, b);
                y = gelu ? z.Gelu() : res! + z.Dropout(p, true, dropout);
            }
            if (backward)
            {
                y.Backward(g);
                x.ZeroGrad();
                w.ZeroGrad();
                b.ZeroGrad();
            }
        }
        Once();
        Once();
        var times = new double[reps];
        var process = Process.GetCurrentProcess();
        for (int i = 0; i < reps; i++)
        {
            process.Refresh();
            var start = process.TotalProcessorTime;
            Once();
            process.Refresh();
            times[i] = (process.TotalProcessorTime - start).TotalMilliseconds;
        }
        Array.Sort(times);
        return times[reps / 2];
    }

    private static int Arg(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : fallback;
    }
}
