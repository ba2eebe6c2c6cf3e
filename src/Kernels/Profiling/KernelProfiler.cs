using System.Diagnostics;
using System.Text;

namespace Finetune.Kernels.Profiling;

/// <summary>
/// Records every backend kernel call made while a profiling session is active. Ops reach kernels through
/// <see cref="Dispatch"/>, the single point where calls are timed; with no session it returns the backend
/// itself, so profiling costs nothing when off. Scopes (<see cref="Scope"/>) attribute cost to modules.
/// </summary>
public sealed class KernelProfiler : IDisposable
{
    [ThreadStatic] private static KernelProfiler? _active;
    [ThreadStatic] private static Stack<string>? _scopes;

    private readonly List<KernelRecord> _records = new();
    private readonly KernelProfiler? _previous;

    private KernelProfiler()
    {
        _previous = _active;
        _active = this;
    }

    /// <summary>Starts recording on this thread until the returned profiler is disposed.</summary>
    public static KernelProfiler Start() => new();

    public IReadOnlyList<KernelRecord> Records => _records;

    /// <summary>The backend ops should call: a timing wrapper while a session is active.</summary>
    public static IBackend Dispatch(IBackend backend) => _active is null ? backend : new ProfilingBackend(backend, _active);

    /// <summary>True while a profiler records on this thread.</summary>
    public static bool IsActive => _active is not null;

    /// <summary>The scope kernels launched now are attributed to ("" outside every scope).</summary>
    public static string CurrentScope => _scopes is { Count: > 0 } s ? s.Peek() : "";

    /// <summary>
    /// Attributes kernels launched until disposal to the module path <paramref name="path"/> as it is (a module's path
    /// already names its parents); nothing when no profiler runs or the path is null or empty.
    /// </summary>
    public static IDisposable ModuleScope(string? path)
    {
        if (_active is null || string.IsNullOrEmpty(path)) return NoScope.Instance;
        var stack = _scopes ??= new Stack<string>();
        stack.Push(path);
        return new PopScope(stack);
    }

    /// <summary>Attributes kernels launched until disposal to <paramref name="name"/> (nested names join with '/').</summary>
    public static IDisposable Scope(string name)
    {
        if (_active is null) return NoScope.Instance;
        var stack = _scopes ??= new Stack<string>();
        stack.Push(stack.Count == 0 ? name : stack.Peek() + "/" + name);
        return new PopScope(stack);
    }

    internal void Record(string kernel, string shape, double flops, double bytes, long startTicks, IBackend backend)
    {
        backend.Synchronize();
        double ms = (Stopwatch.GetTimestamp() - startTicks) * 1000.0 / Stopwatch.Frequency;
        _records.Add(new KernelRecord(kernel, shape, flops, bytes, ms, _scopes is { Count: > 0 } s ? s.Peek() : ""));
    }

    /// <summary>Per-kernel totals, slowest first: calls, time, achieved GFLOP/s and GB/s.</summary>
    public string Summary(int top = 25)
    {
        var sb = new StringBuilder();
        double total = _records.Sum(r => r.Milliseconds);
        sb.AppendLine($"{"kernel",-22} {"shape",-34} {"calls",6} {"ms",9} {"%",6} {"GFLOP/s",9} {"GB/s",8}");
        foreach (var g in _records.GroupBy(r => (r.Kernel, r.Shape)).OrderByDescending(g => g.Sum(r => r.Milliseconds)).Take(top))
        {
            double ms = g.Sum(r => r.Milliseconds);
            double s = Math.Max(ms, 1e-9) / 1000;
            sb.AppendLine($"{g.Key.Kernel,-22} {Truncate(g.Key.Shape, 34),-34} {g.Count(),6} {ms,9:F2} "
                + $"{100 * ms / Math.Max(total, 1e-9),6:F1} {g.Sum(r => r.Flops) / s / 1e9,9:F1} {g.Sum(r => r.Bytes) / s / 1e9,8:F1}");
        }
        sb.AppendLine($"total {total:F2} ms in {_records.Count} kernel calls");
        return sb.ToString();
    }

    /// <summary>Time per scope (module), slowest first.</summary>
    public string ScopeSummary()
    {
        var sb = new StringBuilder();
        foreach (var g in _records.GroupBy(r => r.Scope).OrderByDescending(g => g.Sum(r => r.Milliseconds)))
            sb.AppendLine($"{(g.Key.Length == 0 ? "(no scope)" : g.Key),-50} {g.Sum(r => r.Milliseconds),10:F2} ms {g.Count(),6} calls");
        return sb.ToString();
    }

    /// <summary>The records as a Chrome trace (chrome://tracing, Perfetto), kernels laid end to end.</summary>
    public string ToChromeTrace()
    {
        var sb = new StringBuilder("{\"traceEvents\":[");
        double t = 0;
        for (int i = 0; i < _records.Count; i++)
        {
            var r = _records[i];
            if (i > 0) sb.Append(',');
            sb.Append($"{{\"name\":\"{r.Kernel}\",\"cat\":\"{Escape(r.Scope)}\",\"ph\":\"X\",\"ts\":{t * 1000:F3},"
                + $"\"dur\":{r.Milliseconds * 1000:F3},\"pid\":1,\"tid\":1,\"args\":{{\"shape\":\"{Escape(r.Shape)}\",\"flops\":{r.Flops},"
                + $"\"bytes\":{r.Bytes}}}}}");
            t += r.Milliseconds;
        }
        return sb.Append("]}").ToString();
    }

    private static string Escape(string s) => s.Replace("\\", "\\\\").Replace("\"", "\\\"");

    private static string Truncate(string s, int n) => s.Length <= n ? s : s[..(n - 1)] + "…";

    public void Dispose() => _active = _previous;

    private sealed class PopScope(Stack<string> stack) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            stack.Pop();
        }
    }

    private sealed class NoScope : IDisposable
    {
        public static readonly NoScope Instance = new();

        public void Dispose() { }
    }
}
