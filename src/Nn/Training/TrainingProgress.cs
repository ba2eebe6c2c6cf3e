using Spectre.Console;

namespace Finetune.Nn.Training;

/// <summary>
/// The progress display of a run: a Spectre.Console bar with loss, examples/s and ETA on an interactive
/// terminal, otherwise a plain line every few percent (logs and CI stay readable).
/// </summary>
internal sealed class TrainingProgress : IDisposable
{
    private readonly bool _show;
    private readonly int _total;
    private readonly string _name;
    private readonly bool _interactive;
    private readonly DateTime _start = DateTime.UtcNow;
    private readonly Task? _display;
    private readonly TaskCompletionSource _done = new();
    private ProgressTask? _task;
    private int _lastPrinted = -1;

    public TrainingProgress(bool show, int totalSteps, string name)
    {
        _show = show;
        _total = totalSteps;
        _name = name;
        _interactive = show && AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;
        if (!_interactive) return;
        var ready = new TaskCompletionSource();
        _display = AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async ctx =>
            {
                _task = ctx.AddTask(Markup.Escape(name), maxValue: totalSteps);
                ready.SetResult();
                await _done.Task;
            });
        ready.Task.Wait();
    }

    public void Step(int step, float loss, double examplesPerSecond)
    {
        if (!_show) return;
        if (_task is not null)
        {
            _task.Description = Markup.Escape($"{_name} step {step}/{_total} loss {loss:F4} {examplesPerSecond:F1} ex/s");
            _task.Value = step;
            return;
        }
        int percent = (int)(100L * step / _total);
        if (percent / 5 == _lastPrinted / 5 && step != _total && step != 1) return;
        _lastPrinted = percent;
        var elapsed = DateTime.UtcNow - _start;
        var eta = TimeSpan.FromSeconds(elapsed.TotalSeconds / step * (_total - step));
        Console.WriteLine($"[{_name}] step {step}/{_total} ({percent}%) loss {loss:F4}  {examplesPerSecond:F1} examples/s  ETA {eta:hh\\:mm\\:ss}");
    }

    public void Evaluated(EvalRecord eval)
    {
        if (!_show) return;
        string line = $"[{_name}] eval at step {eval.Step}: loss {eval.Loss:F4}, accuracy {eval.Accuracy:P2} ({eval.Examples} examples)";
        if (_interactive) AnsiConsole.MarkupLine(Markup.Escape(line));
        else Console.WriteLine(line);
    }

    public void Dispose()
    {
        _done.TrySetResult();
        _display?.Wait();
    }
}
