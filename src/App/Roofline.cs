using System.Diagnostics;
using Finetune.Kernels;

namespace Finetune.App;

/// <summary>
/// This machine's measured roofline: the compute peak from a calibration GEMM (1024³, best of five) and the bandwidth from
/// a stream kernel (y = 2·x over 64 MB, best of five), both through the engine's own kernels on <paramref name="Device"/>.
/// </summary>
public sealed record Roofline(Device Device, double PeakGflops, double PeakGBs)
{
    public static Roofline Measure(Device device)
    {
        using var scope = TensorScope.Begin();
        using var noGrad = GradMode.NoGrad();
        var g = new Generator(1);
        var a = Tensor.Normal(new[] { 1024, 1024 }, 0f, 1f, g, device);
        var b = Tensor.Normal(new[] { 1024, 1024 }, 0f, 1f, g, device);
        var x = Tensor.Normal(new[] { 16 << 20 }, 0f, 1f, g, device);
        double gemm = Best(() => a.Matmul(b).Dispose());
        double stream = Best(() => (x * 2f).Dispose());
        return new Roofline(device, 2.0 * 1024 * 1024 * 1024 / gemm / 1e9, 2.0 * 4 * x.Count / stream / 1e9);
    }

    /// <summary>The best rate a kernel with this arithmetic intensity can reach: min(peak, intensity × bandwidth).</summary>
    public double AttainableGflops(double flops, double bytes) => bytes <= 0 ? PeakGflops : Math.Min(PeakGflops, flops / bytes * PeakGBs);

    /// <summary>Percent of the roofline a measured cost reaches (by FLOPs when it has any, else by bytes).</summary>
    public double Percent(double flops, double bytes, double milliseconds)
    {
        double s = Math.Max(milliseconds, 1e-9) / 1e3;
        return flops > 0 ? 100 * flops / s / 1e9 / AttainableGflops(flops, bytes) : 100 * bytes / s / 1e9 / PeakGBs;
    }

    private static double Best(Action run)
    {
        run();
        double best = double.MaxValue;
        for (int i = 0; i < 5; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            run();
            best = Math.Min(best, (Stopwatch.GetTimestamp() - t0) / (double)Stopwatch.Frequency);
        }
        return best;
    }
}
