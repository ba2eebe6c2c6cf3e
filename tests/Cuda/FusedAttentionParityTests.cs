using Finetune.Kernels.Profiling;

namespace Finetune.Tests.Cuda;

/// <summary>
/// The fused attention kernels of kernels.cu against the CPU's: the same op (<see cref="Tensor.Attention"/>), the same
/// dropout stream, forward and every gradient within 1e-5 relative, Tq ≠ Tk, padded and strided inputs; the profiler
/// shows the CUDA kernels ran. Sizes stay small: on the host device every lane is a fiber.
/// </summary>
public class FusedAttentionParityTests : CudaFixture
{
    public FusedAttentionParityTests(string kind) : base(kind) { }

    private static (List<float[]> Values, List<string> Kernels) Run(Device device, int batch, int heads, int tq, int tk, int d,
        float dropout, bool mask)
    {
        var shapes = new[] { new[] { batch, tq, heads, d }, new[] { batch, tk, heads, d }, new[] { batch, tk, heads, d } };
        // The query arrives as a [B, H, T, d] tensor transposed, as strided as a caller may hand it over.
        var q = Tensor.FromArray(Random(batch * tq * heads * d, -1f, 1f, 700), new[] { batch, heads, tq, d }, device).Keep();
        var kv = shapes.Skip(1)
            .Select((s, i) => Tensor.FromArray(Random(s.Aggregate(1, (a, b) => a * b), -1f, 1f, 701 + (ulong)i), s, device).Keep())
            .ToArray();
        var m = new float[batch * tk];
        for (int j = tk / 2; j < tk; j++) m[(batch - 1) * tk + j] = -1e9f;
        using var maskTensor = Tensor.FromArray(m, new[] { batch, 1, 1, tk }, device);
        q.RequiresGrad = true;
        foreach (var x in kv) x.RequiresGrad = true;
        try
        {
            using var scope = TensorScope.Begin();
            using var profiler = KernelProfiler.Start();
            var y = Tensor.Attention(q.Transpose(1, 2), kv[0], kv[1], mask ? maskTensor : null, 0.37f, dropout, new Generator(9));
            var weights = Tensor.FromArray(Random((int)y.Count, -1f, 1f, 799), y.Shape.ToArray(), device);
            (y * weights).Sum().Backward();
            var values = new List<float[]> { y.ToArray(), q.Grad!.ToArray(), kv[0].Grad!.ToArray(), kv[1].Grad!.ToArray() };
            return (values, profiler.Records.Select(r => r.Kernel).ToList());
        }
        finally
        {
            q.Dispose();
            foreach (var x in kv) x.Dispose();
        }
    }

    [TestCase(2, 2, 5, 5, 7, 0f, true)]
    [TestCase(2, 2, 5, 5, 7, 0.2f, true)]
    [TestCase(1, 3, 33, 40, 16, 0.1f, true)]
    [TestCase(2, 1, 1, 1, 1, 0f, false)]
    [TestCase(1, 1, 17, 65, 32, 0.1f, false)]
    public void Fused_attention_matches_cpu_forward_and_gradients(int batch, int heads, int tq, int tk, int d, float dropout, bool mask)
    {
        Assert.That(Tensor.HasFusedAttention(Device.Cuda(0)), "the CUDA backend has fused attention");
        var cpu = Run(Device.Cpu, batch, heads, tq, tk, d, dropout, mask);
        var cuda = Run(Device.Cuda(0), batch, heads, tq, tk, d, dropout, mask);
        string[] names = { "y", "dQ", "dK", "dV" };
        for (int i = 0; i < cpu.Values.Count; i++)
        {
            // A gradient that is zero analytically (dQ with a single key) is compared at an absolute 1e-6.
            double scale = Math.Max(cpu.Values[i].Max(v => Math.Abs((double)v)), 0.1), worst = 0;
            for (int k = 0; k < cpu.Values[i].Length; k++) worst = Math.Max(worst, Math.Abs((double)cpu.Values[i][k] - cuda.Values[i][k]));
            Assert.That(worst, Is.LessThanOrEqualTo(1e-5 * scale), $"{names[i]}: max |cuda - cpu| {worst:G3} vs max |cpu| {scale:G3}");
        }
        Assert.That(cuda.Kernels, Does.Contain("attention_forward").And.Contain("attention_backward"), "the fused kernels ran");
        Assert.That(cuda.Kernels.Where(k => k.StartsWith("softmax", StringComparison.Ordinal) || k == "random_uniform"), Is.Empty,
            "no scores, softmax or dropout tensor on the device");
    }
}
