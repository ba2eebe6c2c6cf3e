using System.Text.Json;
using Finetune.Nn.IO;
using Finetune.Nn.Training;

using Finetune.Peft;

namespace Finetune.App;

/// <summary>
/// Trains every chosen method from the same pretrained start with the same step budget, batches and data order, and
/// scores each on the same held-out examples (what <c>finetune compare</c> prints).
/// </summary>
public static class MethodComparison
{
    /// <param name="prepare">Builds a fresh classifier for a method (a new copy of the pretrained encoder each time).</param>
    /// <param name="family">Picks each preset's targets and learning rate.</param>
    /// <param name="train">The shared budget; the learning rate is each preset's own.</param>
    /// <param name="onResult">Called after each method (progress output).</param>
    public static List<MethodResult> Run<TExample>(
        IReadOnlyList<string> methods, ModelFamily family, Func<FineTuneOptions, PreparedClassifier> prepare,
        ClassificationData<TExample> data, IReadOnlyList<TExample> test, TrainOptions train, ulong seed,
        Action<MethodResult>? onResult = null)
    {
        if (methods.Count == 0) throw new ArgumentException("compare: no methods given");
        var presets = methods.Select(PeftRegistry.Preset).ToList();
        foreach (var p in presets.Where(p => !p.Families.Contains(family)))
            throw new ArgumentException($"compare: method '{p.Name}' does not apply to {family} models");
        var results = new List<MethodResult>();
        foreach (var preset in presets)
        {
            var options = new FineTuneOptions { Method = preset.Name, Seed = seed };
            using var prepared = prepare(options);
            float lr = preset.LearningRate(family);
            var report = Engine.Train(prepared.Classifier, data,
                train with { LearningRate = lr, RunName = preset.Name, OutputDirectory = null, Seed = seed });
            var eval = Engine.Evaluate(prepared.Classifier, test, data.Collate, train.EvalBatchSize, report.Steps);
            var counts = prepared.Report;
            var result = new MethodResult(preset.Name, preset.Summary, counts.Trainable, counts.Total, counts.Percent,
                eval.Accuracy, eval.Loss, eval.Examples, report.Steps, lr,
                MedianStepSeconds(report, train.BatchSize * train.GradientAccumulation), report.PeakMemoryBytes);
            results.Add(result);
            onResult?.Invoke(result);
        }
        return results;
    }

    /// <summary>The median step time: the first steps pay for JIT compilation, which would penalise whichever method runs first.</summary>
    private static double MedianStepSeconds(TrainingReport report, int examplesPerStep)
    {
        var seconds = report.Losses.Select(l => examplesPerStep / l.ExamplesPerSecond).Order().ToList();
        return seconds.Count == 0 ? 0 : seconds[seconds.Count / 2];
    }

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Writes compare.json and compare.png (accuracy per method, bars labelled with the trainable share), each
    /// atomically.</summary>
    public static void Write(string directory, string title, IReadOnlyList<MethodResult> results)
    {
        Directory.CreateDirectory(directory);
        var rows = results.Select(r => new
        {
            r.Method, r.Summary, r.TrainableParameters, r.TotalParameters, r.TrainablePercent, r.Accuracy, r.Loss,
            r.TestExamples, r.Steps, r.LearningRate, r.StepSeconds, r.PeakMemoryBytes,
        });
        AtomicFile.WriteAllText(Path.Combine(directory, "compare.json"),
            JsonSerializer.Serialize(new { Title = title, Methods = rows }, Json));
        WriteChart(Path.Combine(directory, "compare.png"), title, results);
    }

    public static void WriteChart(string path, string title, IReadOnlyList<MethodResult> results)
    {
        var plot = new ScottPlot.Plot();
        var bars = results.Select((r, i) => new ScottPlot.Bar
        {
            Position = results.Count - 1 - i,
            Value = 100.0 * r.Accuracy,
            Label = FormattableString.Invariant($"{100.0 * r.Accuracy:F1}% ({r.TrainablePercent:0.###}% trained)"),
        }).ToList();
        var series = plot.Add.Bars(bars);
        series.Horizontal = true;
        series.ValueLabelStyle.FontSize = 11;
        // The first method is drawn on top, as in the printed table.
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            results.Select((_, i) => (double)(results.Count - 1 - i)).ToArray(), results.Select(r => r.Method).ToArray());
        plot.Title(title.Replace(": ", ":\n", StringComparison.Ordinal));
        plot.Axes.SetLimits(0, 130, -0.7, results.Count - 0.3);
        plot.XLabel("test accuracy (%)");
        var tmp = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!,
            $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp.png");
        plot.SavePng(tmp, 1000, 140 + 40 * results.Count);
        File.Move(tmp, path, overwrite: true);
    }
}
