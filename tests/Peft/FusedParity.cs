namespace Finetune.Tests.Peft;

/// <summary>The fused-kernel tests' comparison: the largest difference within 1e-5 of the reference's largest magnitude.</summary>
internal static class FusedParity
{
    public const double Tolerance = 1e-5;

    public static void AssertClose(float[] actual, float[] expected, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what);
        double scale = expected.Length == 0 ? 0 : expected.Max(v => Math.Abs((double)v));
        double worst = 0;
        for (int i = 0; i < actual.Length; i++) worst = Math.Max(worst, Math.Abs((double)actual[i] - expected[i]));
        Assert.That(worst, Is.LessThanOrEqualTo(Tolerance * Math.Max(scale, 1e-30)),
            $"{what}: max |fused - reference| {worst:G3} vs max |reference| {scale:G3}");
    }
}
