using Finetune.App;
using Finetune.Nn.Training;
using Finetune.Peft;
using Spectre.Console;

namespace Finetune.Cli.Commands;

/// <summary>One row per method: what trained, how well it did, and what it cost.</summary>
internal static class ResultTable
{
    public sealed record Row(string Method, TrainableReport Parameters, EvalRecord Test, TrainingReport? Training, double EvalSeconds);

    public static void Print(string title, IReadOnlyList<Row> rows)
    {
        // One column per method keeps the table narrow enough for an 80-column log.
        var table = new Table().Title(Markup.Escape(title)).Border(TableBorder.Rounded).AddColumn("");
        foreach (var r in rows) table.AddColumn(Markup.Escape(r.Method));
        void Line(string name, Func<Row, string> cell) =>
            table.AddRow(new[] { name }.Concat(rows.Select(r => Markup.Escape(cell(r)))).ToArray());
        Line("test accuracy", r => $"{r.Test.Accuracy:P2} of {r.Test.Examples:N0}");
        Line("test loss", r => $"{r.Test.Loss:F4}");
        Line("trainable parameters", r => $"{r.Parameters.Trainable:N0} of {r.Parameters.Total:N0} ({r.Parameters.Percent:F3}%)");
        Line("steps", r => r.Training?.Steps.ToString("N0") ?? "-");
        Line("train time", r => r.Training is null ? "-" : $"{r.Training.Seconds:F0} s");
        Line("train examples/s", r => r.Training is null ? "-" : $"{r.Training.ExamplesPerSecond:F1}");
        Line("eval time", r => $"{r.EvalSeconds:F0} s");
        Line("peak memory", r => r.Training is null ? "-" : $"{r.Training.PeakMemoryBytes / (1024.0 * 1024.0):F0} MiB");
        AnsiConsole.Write(table);
    }

    /// <summary>One row per method, for comparisons of many methods (a column each would not fit).</summary>
    public static void PrintComparison(string title, IReadOnlyList<MethodResult> rows)
    {
        var table = new Table().Title(Markup.Escape(title)).Border(TableBorder.Rounded);
        foreach (var c in new[] { "method", "trainable", "share", "accuracy", "ms/step", "peak MiB" })
            table.AddColumn(new TableColumn(c).NoWrap());
        foreach (var r in rows)
            table.AddRow(Markup.Escape(r.Method), $"{r.TrainableParameters:N0}", $"{r.TrainablePercent:F3}%", $"{r.Accuracy:P2}",
                $"{1000 * r.StepSeconds:F0}", $"{r.PeakMemoryBytes / (1024.0 * 1024.0):F0}");
        AnsiConsole.Write(table);
    }
}
