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
