using System.Globalization;
using System.Text;
using Finetune.Kernels.Profiling;

namespace Finetune.App;

/// <summary>
/// The tables of `finetune profile`: cost per module (the profiler scope each kernel ran in, forward and backward) and per
/// kernel — time, share, FLOPs, bytes, achieved rates and the percentage of this machine's <see cref="Roofline"/>.
/// </summary>
public static class ProfileReport
{
    public static string Format(IReadOnlyList<KernelRecord> records, Roofline roofline, int top = 30)
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        double total = records.Sum(r => r.Milliseconds);
        sb.AppendLine(inv, $"roofline of {roofline.Device}: {roofline.PeakGflops:F1} GFLOP/s (calibration GEMM), "
            + $"{roofline.PeakGBs:F1} GB/s (stream kernel)");
        sb.AppendLine();
        Table(sb, "module", records.GroupBy(r => r.Scope.Length == 0 ? "(outside any module)" : r.Scope), total, roofline, top);
        sb.AppendLine();
        Table(sb, "kernel", records.GroupBy(r => r.Kernel), total, roofline, top);
        sb.AppendLine(inv, $"total {total:F2} ms in {records.Count} kernel calls");
        return sb.ToString();
    }

    private static void Table(StringBuilder sb, string what, IEnumerable<IGrouping<string, KernelRecord>> groups, double total,
        Roofline roofline, int top)
    {
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine(inv, $"{what,-56} {"calls",6} {"ms",9} {"%",6} {"GFLOP",8} {"MB",9} {"GFLOP/s",8} {"GB/s",7} {"% roof",7}");
        foreach (var g in groups.OrderByDescending(g => g.Sum(r => r.Milliseconds)).Take(top))
        {
            double ms = g.Sum(r => r.Milliseconds), flops = g.Sum(r => r.Flops), bytes = g.Sum(r => r.Bytes);
            double s = Math.Max(ms, 1e-9) / 1e3;
            string name = g.Key.Length <= 56 ? g.Key : "…" + g.Key[^55..];
            sb.AppendLine(inv, $"{name,-56} {g.Count(),6} {ms,9:F2} {100 * ms / Math.Max(total, 1e-9),6:F1} {flops / 1e9,8:F3} "
                + $"{bytes / 1e6,9:F2} {flops / s / 1e9,8:F1} {bytes / s / 1e9,7:F1} {roofline.Percent(flops, bytes, ms),7:F1}");
        }
    }
}
