namespace Finetune;

/// <summary>Whether ops record the graph on this thread. <c>using (GradMode.NoGrad()) { ... }</c> turns it off.</summary>
public static class GradMode
{
    [ThreadStatic] private static int _disabled;

    public static bool IsEnabled => _disabled == 0;

    public static IDisposable NoGrad()
    {
        _disabled++;
        return new OnDispose(() => _disabled--);
    }
}

/// <summary>
/// The NaN finder: while enabled, every op checks its output (and backward its gradients) and throws
/// <see cref="NonFiniteException"/> naming the first op that produced NaN or ±Inf. It reads tensors on the
/// host, so it is for debugging, not for training speed.
/// </summary>
public static class AnomalyMode
{
    [ThreadStatic] private static int _enabled;

    public static bool IsEnabled => _enabled > 0;

    public static IDisposable Detect()
    {
        _enabled++;
        return new OnDispose(() => _enabled--);
    }

    internal static void Check(string op, string phase, Tensor output, string inputs)
    {
        if (output.DType != Kernels.DType.Float32) return;
        var values = output.ToArray();
        for (int i = 0; i < values.Length; i++)
        {
            if (float.IsFinite(values[i])) continue;
            throw new NonFiniteException(op, phase,
                $"{op} ({phase}) produced {values[i]} at flat index {i} of its output {output.Describe()}; inputs: {inputs}");
        }
    }
}

public sealed class NonFiniteException : ArithmeticException
{
    public NonFiniteException(string op, string phase, string message) : base(message)
    {
        Op = op;
        Phase = phase;
    }

    /// <summary>The op that first produced a non-finite value.</summary>
    public string Op { get; }

    /// <summary>"forward" or "backward".</summary>
    public string Phase { get; }
}

/// <summary>Runs an action once, on the first Dispose (on the thread that disposes it).</summary>
internal sealed class OnDispose(Action action) : IDisposable
{
    private bool _done;

    public void Dispose()
    {
        if (_done) return;
        _done = true;
        action();
    }
}
