using System.Globalization;
using System.Runtime.InteropServices;
using Finetune.Kernels;
using Finetune.Kernels.Cpu;

namespace Finetune.Bench;

/// <summary>
/// `bench lora --kernels`: each CPU LoRA kernel alone beside the base GEMMs of the same layer (x·Wᵀ and dY·W), one thread and
/// thread CPU time (or --threads N and wall time), the fastest of many repetitions, so a loaded machine disturbs the comparison as little as it can. The
/// LoRA kernels' share of the base GEMMs is what the fused layer adds to the work both paths share.
/// </summary>
public static unsafe class LoraKernelTable
{
    public static int Run(int[] hiddens, int[] tokens, int[] ranks, int reps, int threads = 1)
    {
        CpuParallel.Threads = threads;
        BenchClock.CpuTime = threads == 1;
        Console.WriteLine($"CPU LoRA kernels, dropout 0.1, {threads} thread(s), {(threads == 1 ? "thread CPU time" : "wall time")}, "
            + $"fastest of {reps} (ms)");
        Console.WriteLine();
        Console.WriteLine("| h | tokens | r | base fwd GEMM | base dX GEMM | lora_down | lora_up | lora_up_backward | lora_down_backward | "
            + "lora_down_backward, keep bits | LoRA / base |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (int h in hiddens)
            foreach (int t in tokens)
                foreach (int r in ranks)
                    Row(h, t, r, reps);
        return 0;
    }

    private static void Row(int h, int t, int r, int reps)
    {
        var rng = new Random(1);
        float* x = Fill((long)t * h, rng), w = Fill((long)h * h, rng), y = Fill((long)t * h, rng), g = Fill((long)t * h, rng);
        float* a = Fill((long)r * h, rng), b = Fill((long)h * r, rng), u = Fill((long)t * r, rng), gu = Fill((long)t * r, rng);
        float* ga = Fill((long)r * h, rng), gb = Fill((long)h * r, rng), gx = Fill((long)t * h, rng);
        var drop = new DropoutStream(7, 0, 0.1f);
        try
        {
            double fwd = Time(reps, () => GemmPacked.Sgemm(false, true, t, h, h, 1f, x, h, 0, w, h, 0, 0f, y, h, 0, 1));
            double dx = Time(reps, () => GemmPacked.Sgemm(false, false, t, h, h, 1f, g, h, 0, w, h, 0, 0f, gx, h, 0, 1));
            double down = Time(reps, () => LoraKernels.Down(x, a, u, t, h, r, drop));
            double up = Time(reps, () => LoraKernels.Up(u, b, y, t, h, r, 2f));
            double upB = Time(reps, () => LoraKernels.UpBackward(g, u, b, gu, gb, t, h, r, 2f));
            double downB = Time(reps, () => LoraKernels.DownBackward(x, a, gu, ga, gx, t, h, r, drop));
            var bits = (byte*)NativeMemory.AlignedAlloc((nuint)((long)t * ((h + 7) / 8) + 64), 64);
            LoraKernels.Down(x, a, u, t, h, r, drop, bits);
            double downBits = Time(reps, () => LoraKernels.DownBackward(x, a, gu, ga, gx, t, h, r, drop, bits));
            NativeMemory.AlignedFree(bits);
            string F(double v) => v.ToString("F3", CultureInfo.InvariantCulture);
            Console.WriteLine($"| {h} | {t} | {r} | {F(fwd)} | {F(dx)} | {F(down)} | {F(up)} | {F(upB)} | {F(downB)} | {F(downBits)} | "
                + $"{(down + up + upB + downBits) / (fwd + dx):P0} |");
        }
        finally
        {
            foreach (var p in new[] { (nint)x, (nint)w, (nint)y, (nint)g, (nint)a, (nint)b, (nint)u, (nint)gu, (nint)ga, (nint)gb,
                         (nint)gx })
                NativeMemory.AlignedFree((void*)p);
        }
    }

    private static double Time(int reps, Action run)
    {
        run();
        double best = double.MaxValue;
        for (int i = 0; i < reps; i++)
        {
            double t0 = BenchClock.Now();
            run();
            best = Math.Min(best, BenchClock.Now() - t0);
        }
        return best * 1e3;
    }

    private static float* Fill(long n, Random rng)
    {
        var p = (float*)NativeMemory.AlignedAlloc((nuint)(n * sizeof(float)), 64);
        for (long i = 0; i < n; i++) p[i] = (float)(rng.NextDouble() - 0.5);
        return p;
    }
}
