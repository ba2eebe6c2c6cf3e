using System.Runtime.Intrinsics;

namespace Finetune.Kernels.Cpu;

/// <summary>
/// Dropout keep-scales straight from the Philox stream, for kernels that drop their input on the fly: element e
/// gets 1/(1-p) when <c>Philox.Uniform(seed, offset, e) ≥ p</c>, else 0 — the same floats as
/// <see cref="UnaryOp.DropoutMask"/> over <see cref="IBackend.RandomUniform"/>. The blocks come from
/// <see cref="PhiloxVector"/> (AVX-512, AVX2 or scalar, all bit-identical).
/// </summary>
internal static unsafe class PhiloxDropout
{
    private const int Slice = 256;

    /// <summary>scales[k] = keep-scale of stream element <paramref name="start"/> + k, for k &lt; <paramref name="count"/>.</summary>
    public static void KeepScales(in DropoutStream d, long start, long count, float* scales) =>
        PhiloxVector.Generate(d.Seed, d.Offset, start, count, scales, new KeepScaleMap(d.P, d.KeepScale));

    /// <summary>y[e] = x[e]·keep-scale(e) for e &lt; count (dropout forward, or its backward with the mask drawn again).</summary>
    public static void Apply(in DropoutStream d, float* x, float* y, long count)
    {
        nint px = (nint)x, py = (nint)y;
        var stream = d;
        CpuParallel.For(count, 1 << 14, (s, e) =>
        {
            float* keep = stackalloc float[Slice];
            for (long at = s; at < e; at += Slice)
            {
                int w = (int)Math.Min(Slice, e - at);
                KeepScales(stream, at, w, keep);
                float* xs = (float*)px + at, ys = (float*)py + at;
                int j = 0;
                for (; j + 8 <= w; j += 8) (Vector256.Load(xs + j) * Vector256.Load(keep + j)).Store(ys + j);
                for (; j < w; j++) ys[j] = xs[j] * keep[j];
            }
        });
    }
}
