using System.Globalization;
using System.Runtime.InteropServices;
using Finetune.Kernels;
using Finetune.Kernels.Cpu;

namespace Finetune.Bench;

/// <summary>
/// `bench lora --kernels`: each CPU LoRA kernel alone beside the base GEMMs of the same layer (x·Wᵀ and dY·W), one thread and
/// thread CPU time (or --threads N and wall time), the fastest of many repetitions, so a loaded machine disturbs the comparison as little as it can. The
/// LoRA kernels' share of the base GEMMs is what the fused layer adds to the work both paths share. Kernel version 3 runs
/// the base GEMMs and adds the low-rank products in separate passes (`lora_up`, the dX term of `lora_down_backward`);
/// version 4 carries them in the base GEMMs as a second inner segment (`gemm_lora_up`, and without dropout `gemm_lora_dx`),
/// so its share counts those GEMMs' extra time over the plain ones.
/// </summary>
public static unsafe class LoraKernelTable
{
    public static int Run(int[] hiddens, int[] tokens, int[] ranks, int reps, int threads = 1) =>
        Table("CPU LoRA kernels, dropout 0.1", threads, reps, hiddens, tokens, ranks, "| h | tokens | r | base fwd GEMM | gemm_lora_up | "
            + "base dX GEMM | gemm_lora_dx | lora_down | lora_up | lora_up_backward | lora_down_backward | "
            + "lora_down_backward, keep bits | lora_down_backward, no dropout | lora_down_backward, gA only, no dropout | "
            + "v3 LoRA / base | v4 LoRA / base | v3 LoRA / base, no dropout | v4 LoRA / base, no dropout |", Row);

    /// <summary>
    /// `--versions`: v3 against v4 where they differ, the forward (base GEMM, then `lora_up`'s pass over y, against
    /// `gemm_lora_up`) and the no-dropout dX (dY·W, then `lora_down_backward` adding gu·A in its gA pass, against
    /// `gemm_lora_dx` and the gA-only pass), the four run in turn each repetition so load drifts hit them alike.
    /// </summary>
    public static int Versions(int[] hiddens, int[] tokens, int[] ranks, int reps, int threads) =>
        Table("LoRA kernel v3 vs v4, no dropout in backward, interleaved", threads, reps, hiddens, tokens, ranks,
            "| h | tokens | r | fwd v3 (GEMM + lora_up) | fwd v4 (gemm_lora_up) | v4 / v3 | dX + gA v3 | dX + gA v4 | v4 / v3 |",
            VersionRow);

    private static int Table(string title, int threads, int reps, int[] hiddens, int[] tokens, int[] ranks, string header,
        Action<int, int, int, int> row)
    {
        CpuParallel.Threads = threads;
        BenchClock.CpuTime = threads == 1;
        Console.WriteLine($"{title}, {threads} thread(s), {(threads == 1 ? "thread CPU time" : "wall time")}, fastest of {reps} (ms)");
        Console.WriteLine();
        Console.WriteLine(header);
        Console.WriteLine("|" + string.Concat(Enumerable.Repeat("---:|", header.Count(ch => ch == '|') - 1)));
        foreach (int h in hiddens)
            foreach (int t in tokens)
                foreach (int r in ranks)
                    row(h, t, r, reps);
        return 0;
    }

    private static void VersionRow(int h, int t, int r, int reps)
    {
        var rng = new Random(1);
        float* x = Fill((long)t * h, rng), w = Fill((long)h * h, rng), y = Fill((long)t * h, rng), g = Fill((long)t * h, rng);
        float* a = Fill((long)r * h, rng), b = Fill((long)h * r, rng), u = Fill((long)t * r, rng), gu = Fill((long)t * r, rng);
        float* ga = Fill((long)r * h, rng), gx = Fill((long)t * h, rng);
        var none = DropoutStream.None;
        try
        {
            var best = TimeInterleaved(reps,
                () =>
                {
                    GemmPacked.Sgemm(false, true, t, h, h, 1f, x, h, 0, w, h, 0, 0f, y, h, 0, 1);
                    LoraKernels.Up(u, b, y, t, h, r, 2f);
                },
                () => LoraKernels.UpGemm(x, w, u, b, y, t, h, h, r, 2f, 0f),
                () =>
                {
                    GemmPacked.Sgemm(false, false, t, h, h, 1f, g, h, 0, w, h, 0, 0f, gx, h, 0, 1);
                    LoraKernels.DownBackward(x, a, gu, ga, gx, t, h, r, none);
                },
                () =>
                {
                    GemmPacked.Sgemm(false, false, t, h, h, 1f, g, h, w, h, false, false, r, gu, r, a, h, 0f, gx, h);
                    LoraKernels.DownBackward(x, a, gu, ga, null, t, h, r, none);
                });
            string F(double v) => v.ToString("F3", CultureInfo.InvariantCulture);
            Console.WriteLine($"| {h} | {t} | {r} | {F(best[0])} | {F(best[1])} | {F(best[1] / best[0])} | {F(best[2])} | {F(best[3])} | "
                + $"{F(best[3] / best[2])} |");
        }
        finally
        {
            foreach (var p in new[] { (nint)x, (nint)w, (nint)y, (nint)g, (nint)a, (nint)b, (nint)u, (nint)gu, (nint)ga, (nint)gx })
                NativeMemory.AlignedFree((void*)p);
        }
    }

    /// <summary>The fastest time of each run (ms), the runs taking turns every repetition after one warm-up each.</summary>
    private static double[] TimeInterleaved(int reps, params Action[] runs)
    {
        foreach (var run in runs) run();
        var best = Enumerable.Repeat(double.MaxValue, runs.Length).ToArray();
        for (int i = 0; i < reps; i++)
            for (int j = 0; j < runs.Length; j++)
            {
                double t0 = BenchClock.Now();
                runs[j]();
                best[j] = Math.Min(best[j], BenchClock.Now() - t0);
            }
        return best.Select(b => b * 1e3).ToArray();
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
            double fwdLora = Time(reps, () => LoraKernels.UpGemm(x, w, u, b, y, t, h, h, r, 2f, 0f));
            double dx = Time(reps, () => GemmPacked.Sgemm(false, false, t, h, h, 1f, g, h, 0, w, h, 0, 0f, gx, h, 0, 1));
            double dxLora = Time(reps, () => GemmPacked.Sgemm(false, false, t, h, h, 1f, g, h, w, h, false, false, r, gu, r, a, h, 0f, gx, h));
            double down = Time(reps, () => LoraKernels.Down(x, a, u, t, h, r, drop));
            double down0 = Time(reps, () => LoraKernels.Down(x, a, u, t, h, r, DropoutStream.None));
            double downB0 = Time(reps, () => LoraKernels.DownBackward(x, a, gu, ga, gx, t, h, r, DropoutStream.None));
            double downGa0 = Time(reps, () => LoraKernels.DownBackward(x, a, gu, ga, null, t, h, r, DropoutStream.None));
            double up = Time(reps, () => LoraKernels.Up(u, b, y, t, h, r, 2f));
            double upB = Time(reps, () => LoraKernels.UpBackward(g, u, b, gu, gb, t, h, r, 2f));
            double downB = Time(reps, () => LoraKernels.DownBackward(x, a, gu, ga, gx, t, h, r, drop));
            var bits = (byte*)NativeMemory.AlignedAlloc((nuint)((long)t * ((h + 7) / 8) + 64), 64);
            LoraKernels.Down(x, a, u, t, h, r, drop, bits);
            double downBits = Time(reps, () => LoraKernels.DownBackward(x, a, gu, ga, gx, t, h, r, drop, bits));
            NativeMemory.AlignedFree(bits);
            string F(double v) => v.ToString("F3", CultureInfo.InvariantCulture);
            double v3 = down + up + upB + downBits, v4 = fwdLora - fwd + down + upB + downBits;
            double v3NoDropout = down0 + up + upB + downB0, v4NoDropout = fwdLora - fwd + down0 + upB + dxLora - dx + downGa0;
            string S(double v) => (v / (fwd + dx)).ToString("P0", CultureInfo.InvariantCulture);
            Console.WriteLine($"| {h} | {t} | {r} | {F(fwd)} | {F(fwdLora)} | {F(dx)} | {F(dxLora)} | {F(down)} | {F(up)} | {F(upB)} | "
                + $"{F(downB)} | {F(downBits)} | {F(downB0)} | {F(downGa0)} | {S(v3)} | {S(v4)} | {S(v3NoDropout)} | {S(v4NoDropout)} |");
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
