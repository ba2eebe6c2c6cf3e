namespace Finetune;

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
