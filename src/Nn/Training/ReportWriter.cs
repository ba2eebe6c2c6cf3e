namespace Finetune.Nn.Training;

/// <summary>Writes a run's report as JSON and its loss curve as a PNG, each through a temporary file and a rename.</summary>
public static class ReportWriter
{
    public static void Write(string directory, TrainingReport report)
    {
        Directory.CreateDirectory(directory);
        AtomicFile.WriteAllText(Path.Combine(directory, "report.json"), report.ToJson());
        WriteLossCurve(Path.Combine(directory, "loss.png"), report);
    }

    public static void WriteLossCurve(string path, TrainingReport report)
    {
        var plot = new ScottPlot.Plot();
        if (report.Losses.Count > 0)
        {
            var steps = report.Losses.Select(l => (double)l.Step).ToArray();
            var train = plot.Add.Scatter(steps, report.Losses.Select(l => (double)l.Loss).ToArray());
            train.LegendText = "training loss";
            train.MarkerSize = 0;
            // A moving average makes the trend readable through batch noise.
            int window = Math.Max(1, report.Losses.Count / 20);
            var smooth = plot.Add.Scatter(steps, MovingAverage(report.Losses.Select(l => (double)l.Loss).ToArray(), window));
            smooth.LegendText = $"training loss (mean of {window})";
            smooth.MarkerSize = 0;
            smooth.LineWidth = 2;
        }
        if (report.Evaluations.Count > 0)
        {
            var eval = plot.Add.Scatter(report.Evaluations.Select(e => (double)e.Step).ToArray(), report.Evaluations.Select(e => (double)e.Loss).ToArray());
            eval.LegendText = "validation loss";
            eval.MarkerSize = 6;
        }
        plot.Title($"{report.RunName}: loss");
        plot.XLabel("step");
        plot.YLabel("cross-entropy");
        plot.ShowLegend();
        var tmp = path + ".tmp.png";
        plot.SavePng(tmp, 900, 500);
        File.Move(tmp, path, overwrite: true);
    }

    private static double[] MovingAverage(double[] values, int window)
    {
        var result = new double[values.Length];
        double sum = 0;
        for (int i = 0; i < values.Length; i++)
        {
            sum += values[i];
            if (i >= window) sum -= values[i - window];
            result[i] = sum / Math.Min(i + 1, window);
        }
        return result;
    }
}

/// <summary>Writes files through a temporary name and a rename, so a crash never leaves half a file.</summary>
public static class AtomicFile
{
    public static void WriteAllText(string path, string text) => Write(path, s =>
    {
        using var w = new StreamWriter(s, leaveOpen: true);
        w.Write(text);
    });

    public static void Write(string path, Action<Stream> write)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        try
        {
            using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            File.Delete(tmp);
            throw;
        }
    }
}
