namespace Finetune;

/// <summary>
/// Frees every tensor created inside it when disposed, except those marked with <see cref="Tensor.Keep"/>,
/// parameters, and gradients (which belong to their leaf). A training step runs inside one, so device
/// memory never waits for the GC. Scopes nest per thread.
/// </summary>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? _current;

    private readonly TensorScope? _parent;
    private readonly List<Tensor> _owned = new();
    private bool _disposed;

    private TensorScope(TensorScope? parent) => _parent = parent;

    public static TensorScope Begin() => _current = new TensorScope(_current);

    public static TensorScope? Current => _current;

    /// <summary>Tensors this scope will free (for tests and diagnostics).</summary>
    public int Tracked => _owned.Count;

    internal static void Track(Tensor t) => _current?._owned.Add(t);

    /// <summary>Hands <paramref name="t"/> to the enclosing scope (or to nobody at top level) instead of freeing it.</summary>
    public Tensor Return(Tensor t)
    {
        _owned.Remove(t);
        if (_parent is not null) _parent._owned.Add(t);
        else t.Kept = true;
        return t;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (!ReferenceEquals(_current, this))
            throw new InvalidOperationException("TensorScope disposed out of order: dispose inner scopes first");
        _current = _parent;
        foreach (var t in _owned)
            if (!t.Kept) t.Dispose();
        _owned.Clear();
    }
}
