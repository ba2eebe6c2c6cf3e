using System.Runtime.Intrinsics;
using Finetune.Kernels.Cpu;

namespace Finetune.Tests.Kernels;

[TestFixture]
public class VMathExpTests
{
    private static IEnumerable<float> Arguments()
    {
        for (double x = -110; x <= 90; x += 0.00731) yield return (float)x;
        foreach (float x in new[] { 0f, -0f, 1e-30f, -1e-30f, 0.34657359f, -0.34657359f, 88.72283f, 88.7229f, -87.33654f, -103.28f,
                     -103.98f, -104f, -104.01f, 89f, 1e9f, -1e9f, float.MaxValue, float.MinValue, float.Epsilon })
            yield return x;
    }

    [Test]
    public void Vector_exp_is_within_a_float_ulp_or_two_of_the_double_exp_down_to_the_subnormals()
    {
        double worstRel = 0;
        foreach (float x in Arguments())
        {
            float got = VMath.Exp(Vector256.Create(x)).GetElement(0);
            double want = Math.Exp(x);
            if (want > float.MaxValue)
            {
                Assert.That(got, Is.EqualTo(float.PositiveInfinity), $"exp({x:R})");
                continue;
            }
            if (want >= 1.17549435e-38)
                worstRel = Math.Max(worstRel, Math.Abs(got - want) / want);
            else
                Assert.That(Math.Abs(got - want), Is.LessThanOrEqualTo(2 * 1.401298464e-45), $"subnormal exp({x:R}) = {got:R}, want {want:R}");
        }
        Assert.That(worstRel, Is.LessThan(2.5e-7), "worst relative error over the normal range");
    }

    [Test]
    public void Special_values_behave_like_expf()
    {
        float[] xs = [float.NegativeInfinity, float.PositiveInfinity, float.NaN, -1e30f, 1e30f, 0f, -200f, 100f];
        float[] want = [0f, float.PositiveInfinity, float.NaN, 0f, float.PositiveInfinity, 1f, 0f, float.PositiveInfinity];
        for (int i = 0; i < xs.Length; i++)
        {
            Assert.That(VMath.Exp(Vector256.Create(xs[i])).GetElement(0), Is.EqualTo(want[i]), $"vector exp({xs[i]})");
            Assert.That(VMath.Exp(xs[i]), Is.EqualTo(want[i]), $"scalar exp({xs[i]})");
        }
    }

    [Test]
    public void Scalar_and_vector_forms_give_the_same_bits()
    {
        // A row's tail goes through the scalar form; where a row is cut must not change a bit.
        foreach (float x in Arguments())
        {
            float v = VMath.Exp(Vector256.Create(x)).GetElement(0), s = VMath.Exp(x);
            Assert.That(BitConverter.SingleToInt32Bits(s), Is.EqualTo(BitConverter.SingleToInt32Bits(v)), $"exp({x:R}): scalar {s:R}, vector {v:R}");
        }
    }
}
