using Finetune.Nn.Training;
using Spectre.Console;

namespace Finetune.App.Reporting;

/// <summary>
/// The console display of <see cref="Engine.Train"/>'s progress: a Spectre.Console bar with loss, examples/s and ETA
/// on an interactive terminal, otherwise a plain line every few percent (logs and CI stay readable).
/// </summary>
public sealed class ConsoleProgress : IProgress<TrainingProgress>, IDisposable
{
    private readonly bool _interactive = AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;
    private readonly TaskCompletionSource _done = new();
    private readonly Dictionary<string, ProgressTask> _tasks = new(StringComparer.Ordinal);
    private Task? _display;
    private ProgressContext? _context;
    private int _lastPrinted = -1;

    public void Report(TrainingProgress value)
    {
        if (value.Evaluation is { } eval)
        {
            string line = $"[{value.RunName}] eval at step {eval.Step}: loss {eval.Loss:F4}, accuracy {eval.Accuracy:P2} "
                + $"({eval.Examples} examples)";
            if (_interactive) AnsiConsole.MarkupLine(Markup.Escape(line));
            else Console.WriteLine(line);
            return;
        }
        if (_interactive)
        {
            var task = Task(value);
            task.Description = Markup.Escape(
                $"{value.RunName} step {value.Step}/{value.TotalSteps} loss {value.Loss:F4} {value.ExamplesPerSecond:F1} ex/s");
            task.Value = value.Step;
            return;
        }
        int percent = (int)(100L * value.Step / value.TotalSteps);
        if (percent / 5 == _lastPrinted / 5 && value.Step != value.TotalSteps && value.Step != 1) return;
        _lastPrinted = percent;
        var eta = TimeSpan.FromSeconds(value.Elapsed.TotalSeconds / value.Step * (value.TotalSteps - value.Step));
        Console.WriteLine($"[{value.RunName}] step {value.Step}/{value.TotalSteps} ({percent}%) loss {value.Loss:F4}  "
            + $"{value.ExamplesPerSecond:F1} examples/s  ETA {eta:hh\\:mm\\:ss}");
    }

    /// <summary>The bar of this run (one per run name: a comparison shows one bar per method).</summary>
    private ProgressTask Task(TrainingProgress value)
    {
        if (_tasks.TryGetValue(value.RunName, out var task)) return task;
        if (_context is null)
        {
            var ready = new TaskCompletionSource();
            _display = AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(),
                    new SpinnerColumn())
                .StartAsync(async ctx =>
                {
                    _context = ctx;
                    ready.SetResult();
                    await _done.Task;
                });
            ready.Task.Wait();
        }
        task = _context!.AddTask(Markup.Escape(value.RunName), maxValue: value.TotalSteps);
        _tasks[value.RunName] = task;
        return task;
    }

    public void Dispose()
    {
        _done.TrySetResult();
        _display?.Wait();
    }
}
