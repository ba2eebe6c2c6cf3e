using Finetune.Kernels.Profiling;

namespace Finetune.App.Reporting;

/// <summary>Where a profiled step's time goes: a bar per module (the slowest; forward and backward together), as a PNG.</summary>
public static class ProfilePlot
{
    public static void Write(string path, IReadOnlyList<KernelRecord> records, string title, int top = 20)
    {
        var groups = records.GroupBy(r => r.Scope.Length == 0 ? "(outside any module)" : r.Scope)
            .Select(g => (Name: g.Key, Ms: g.Sum(r => r.Milliseconds))).OrderByDescending(g => g.Ms).Take(top).Reverse().ToList();
        var plot = new ScottPlot.Plot();
        var bars = plot.Add.Bars(groups.Select(g => g.Ms).ToArray());
        bars.Horizontal = true;
        plot.Axes.Left.SetTicks(Enumerable.Range(0, groups.Count).Select(i => (double)i).ToArray(), groups.Select(g => g.Name).ToArray());
        plot.Title(title);
        plot.XLabel("milliseconds in one step (forward + backward kernels)");
        var tmp = path + ".tmp.png";
        plot.SavePng(tmp, 1200, 60 + 32 * Math.Max(1, groups.Count));
        File.Move(tmp, path, overwrite: true);
    }
}
