using Finetune.Nn.Training;

namespace Finetune.App.Reporting;

/// <summary>A run's loss curve as a PNG (training loss, its moving average, validation loss), written atomically.</summary>
public static class LossPlot
{
    /// <summary>Writes <c>loss.png</c> into <paramref name="directory"/>.</summary>
    public static void WriteInto(string directory, TrainingReport report) => Write(Path.Combine(directory, "loss.png"), report);

    public static void Write(string path, TrainingReport report)
    {
        var plot = new ScottPlot.Plot();
        if (report.Losses.Count > 0)
        {
            var steps = report.Losses.Select(l => (double)l.Step).ToArray();
            var losses = report.Losses.Select(l => (double)l.Loss).ToArray();
            var train = plot.Add.Scatter(steps, losses);
            train.LegendText = "training loss";
            train.MarkerSize = 0;
            // A moving average makes the trend readable through batch noise.
            int window = Math.Max(1, report.Losses.Count / 20);
            var smooth = plot.Add.Scatter(steps, MovingAverage(losses, window));
            smooth.LegendText = $"training loss (mean of {window})";
            smooth.MarkerSize = 0;
            smooth.LineWidth = 2;
        }
        if (report.Evaluations.Count > 0)
        {
            var eval = plot.Add.Scatter(
                report.Evaluations.Select(e => (double)e.Step).ToArray(), report.Evaluations.Select(e => (double)e.Loss).ToArray());
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
