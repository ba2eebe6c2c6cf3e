using System.Diagnostics;
using Finetune.Kernels.Cpu;

namespace Finetune.Bench;

/// <summary>
/// Dropout uniforms per second: <c>RandomUniform</c> over one [1024 × 384] activation (what a dropout draws per layer
/// output at batch 8 × 128) with the scalar Philox blocks (the generator before the vector version), AVX2 and AVX-512.
/// </summary>
public static class PhiloxTable
{
    public static int Run(string[] args)
    {
        int reps = args.Contains("--reps") ? int.Parse(args[Array.IndexOf(args, "--reps") + 1]) : 50;
        const int count = 1024 * 384;
        Console.WriteLine($"RandomUniform of {count} floats (1024 × 384), median of {reps}");
        Console.WriteLine($"| generator | threads | ms per tensor | Muniforms/s | vs scalar |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (int threads in new[] { 1, 2 })
        {
            double scalar = 0;
            foreach (int bits in new[] { 0, 256, 512 })
            {
                if (bits == 512 && !System.Runtime.Intrinsics.X86.Avx512F.IsSupported) continue;
                if (bits == 256 && !System.Runtime.Intrinsics.X86.Avx2.IsSupported) continue;
                CpuParallel.Threads = threads;
                PhiloxVector.MaxBits = bits;
                using var t = Tensor.Zeros(count);
                ulong offset = 0;
                void Draw() => t.Backend.RandomUniform(1, offset += (ulong)count / 4, count, 0f, 1f, t.Dense);
                for (int w = 0; w < 5; w++) Draw();
                var times = new double[reps];
                for (int r = 0; r < reps; r++)
                {
                    var clock = Stopwatch.StartNew();
                    Draw();
                    times[r] = clock.Elapsed.TotalMilliseconds;
                }
                Array.Sort(times);
                double ms = times[reps / 2];
                if (bits == 0) scalar = ms;
                string name = bits == 0 ? "scalar blocks" : bits == 256 ? "AVX2 (Vector256)" : "AVX-512 (Vector512)";
                Console.WriteLine($"| {name} | {threads} | {ms:F3} | {count / ms / 1e3:F0} | {scalar / ms:F1}× |");
            }
        }
        PhiloxVector.MaxBits = 512;
        return 0;
    }
}
