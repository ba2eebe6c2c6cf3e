namespace Finetune.Kernels.Cpu;

/// <summary>
/// Dropout keep-scales straight from the Philox stream, for kernels that drop their input on the fly: element e
/// gets 1/(1-p) when <c>Philox.Uniform(seed, offset, e) ≥ p</c>, else 0 — the same floats as
/// <see cref="UnaryOp.DropoutMask"/> over <see cref="IBackend.RandomUniform"/>. The blocks come from
/// <see cref="PhiloxVector"/> (AVX-512, AVX2 or scalar, all bit-identical).
/// </summary>
internal static unsafe class PhiloxDropout
{
    /// <summary>scales[k] = keep-scale of stream element <paramref name="start"/> + k, for k &lt; <paramref name="count"/>.</summary>
    public static void KeepScales(in DropoutStream d, long start, long count, float* scales) =>
        PhiloxVector.Generate(d.Seed, d.Offset, start, count, scales, new KeepScaleMap(d.P, d.KeepScale));
}
