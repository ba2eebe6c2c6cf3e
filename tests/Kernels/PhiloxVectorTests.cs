using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Finetune.Kernels.Cpu;

namespace Finetune.Tests.Kernels;

[TestFixture]
public unsafe class PhiloxVectorTests
{
    // Offsets where the low counter word or the whole 64-bit counter wraps inside one vector.
    private static readonly ulong[] Offsets = [0, 1, 7, 0xFFFF_FFFDUL, 0xFFFF_FFFF_FFFF_FFFAUL, 0x1234_5678_9ABC_DEF0UL];
    private static readonly long[] Starts = [0, 1, 2, 3, 4, 5, 13, 64, 67, 1_000_003];
    private static readonly int[] Lengths = [0, 1, 3, 4, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 127, 200, 1031];
    private static readonly ulong[] Seeds = [0, 42, 0xDEAD_BEEF_0BAD_F00DUL];

    private static IEnumerable<TestCaseData> Widths()
    {
        yield return new TestCaseData(0).SetArgDisplayNames("scalar");
        if (Avx2.IsSupported) yield return new TestCaseData(256).SetArgDisplayNames("avx2");
        if (Avx512F.IsSupported) yield return new TestCaseData(512).SetArgDisplayNames("avx512");
    }

    [TearDown]
    public void Restore()
    {
        PhiloxVector.MaxBits = 512;
        CpuParallel.Threads = Environment.ProcessorCount;
    }

    [TestCaseSource(nameof(Widths))]
    public void Vector_uniforms_equal_the_scalar_generator_bit_for_bit(int bits)
    {
        PhiloxVector.MaxBits = bits;
        var buffer = new float[Lengths.Max()];
        int checkedValues = 0;
        foreach (ulong seed in Seeds)
            foreach (ulong offset in Offsets)
                foreach (long start in Starts)
                    foreach (int length in Lengths)
                    {
                        fixed (float* o = buffer) PhiloxVector.Generate(seed, offset, start, length, o, new UniformMap(0f, 1f));
                        for (int k = 0; k < length; k++)
                        {
                            float expected = Philox.Uniform(seed, offset, start + k);
                            if (BitConverter.SingleToInt32Bits(buffer[k]) != BitConverter.SingleToInt32Bits(expected))
                                Assert.Fail($"seed {seed:X} offset {offset:X} start {start} length {length}: element {k} is {buffer[k]:R}, "
                                    + $"scalar Philox gives {expected:R}");
                        }
                        checkedValues += length;
                    }
        Assert.That(checkedValues, Is.GreaterThan(100_000));
    }

    [TestCaseSource(nameof(Widths))]
    public void Keep_scales_equal_the_dropout_mask_of_the_scalar_uniforms(int bits)
    {
        PhiloxVector.MaxBits = bits;
        var d = new DropoutStream(7, 0xFFFF_FFF0UL, 0.3f);
        const int n = 4099;
        var scales = new float[n];
        foreach (long start in Starts)
        {
            fixed (float* s = scales) PhiloxDropout.KeepScales(d, start, n, s);
            for (int k = 0; k < n; k++)
            {
                float u = Philox.Uniform(d.Seed, d.Offset, start + k);
                Assert.That(scales[k], Is.EqualTo(u >= d.P ? 1f / (1f - d.P) : 0f), $"start {start}, element {k}");
            }
        }
    }

    [TestCaseSource(nameof(Widths))]
    public void Random_uniform_is_the_same_at_every_thread_count_and_width(int bits)
    {
        PhiloxVector.MaxBits = bits;
        const int n = 1024 * 384 + 3;
        var results = new List<float[]>();
        foreach (int threads in new[] { 1, 2, 3 })
        {
            CpuParallel.Threads = threads;
            var t = Tensor.Uniform(new[] { n }, -1f, 2f, new Generator(11) { Offset = 5 });
            results.Add(t.ToArray());
            t.Dispose();
        }
        Assert.That(results[1], Is.EqualTo(results[0]));
        Assert.That(results[2], Is.EqualTo(results[0]));
        for (int k = 0; k < n; k += 997)
            Assert.That(results[0][k], Is.EqualTo(-1f + 3f * Philox.Uniform(11, 5, k)), $"element {k}");
    }
}
