namespace Finetune.Kernels;

/// <summary>
/// Dropout drawn inside a kernel: element i of the input keeps its value, scaled by 1/(1-P), when the uniform
/// <c>Philox.Uniform(Seed, Offset, i)</c> is at least P, exactly as <see cref="UnaryOp.DropoutMask"/> over
/// <see cref="IBackend.RandomUniform"/> would, so a fused kernel and the composed ops drop the same elements.
/// P = 0 is no dropout (no random numbers are drawn).
/// </summary>
public readonly record struct DropoutStream(ulong Seed, ulong Offset, float P)
{
    public static DropoutStream None => default;

    public bool Active => P > 0f;

    /// <summary>The factor a kept element is multiplied by (the same float the composed mask holds).</summary>
    public float KeepScale => 1f / (1f - P);
}
