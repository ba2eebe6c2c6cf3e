using Finetune.Kernels;
using Finetune.Kernels.Cpu;

namespace Finetune.Tests.Kernels;

/// <summary>
/// The dropout the fused kernels draw inside themselves: the vectorised keep-scales (AVX2 and scalar paths) equal
/// the scalar Philox stream element for element, and keep bits round-trip them.
/// </summary>
public unsafe class DropoutKernelTests
{
    [Test]
    public void Keep_scales_equal_the_scalar_stream_at_every_start_and_length(
        [Values(0L, 1L, 3L, 4L, 61L, 4096L)] long start, [Values(0, 5, 64, 67, 200, 1000)] int count,
        [Values(0UL, 0xFFFFFFF0UL)] ulong offset)
    {
        var d = new DropoutStream(0x1234_5678_9ABCUL, offset, 0.3f);
        var scales = new float[count];
        fixed (float* s = scales) PhiloxDropout.KeepScales(d, start, count, s);
        for (int i = 0; i < count; i++)
        {
            float expected = Philox.Uniform(d.Seed, d.Offset, start + i) >= d.P ? d.KeepScale : 0f;
            Assert.That(scales[i], Is.EqualTo(expected), $"element {start + i}");
        }
    }

    [Test]
    public void Keep_bits_round_trip_the_scales([Values(1, 7, 8, 37, 64)] int n)
    {
        const int rows = 5;
        var d = new DropoutStream(9, 3, 0.25f);
        var scales = new float[rows * n];
        var back = new float[rows * n];
        var bits = new byte[rows * ((n + 7) / 8)];
        fixed (float* s = scales, r = back)
        fixed (byte* b = bits)
        {
            PhiloxDropout.KeepScales(d, 0, scales.Length, s);
            KeepBitMask.Write(s, rows, n, b);
            KeepBitMask.Read(b, rows, n, d.KeepScale, r);
        }
        Assert.That(back, Is.EqualTo(scales));
        Assert.That(scales.Count(v => v == 0f), Is.InRange(1, scales.Length - 1), "some dropped, some kept");
    }
}
