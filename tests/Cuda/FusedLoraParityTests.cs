using Finetune.Kernels.Profiling;

namespace Finetune.Tests.Cuda;

/// <summary>
/// The fused LoRA kernels of kernels.cu against the CPU's: the same op (<see cref="Tensor.LoraLinear"/>), the same
/// dropout stream, forward and every gradient within 1e-5 relative; the profiler shows the CUDA kernels ran.
/// </summary>
public class FusedLoraParityTests : CudaFixture
{
    public FusedLoraParityTests(string kind) : base(kind) { }

    private static (List<float[]> Values, List<string> Kernels) Run(Device device, int tokens, int inF, int outF, int rank, float dropout,
        bool xGrad)
    {
        var shapes = new[] { new[] { tokens, inF }, new[] { outF, inF }, new[] { outF }, new[] { rank, inF }, new[] { outF, rank } };
        var inputs = shapes.Select((s, i) => Tensor.FromArray(Random(s.Aggregate(1, (a, b) => a * b), -1f, 1f, 500 + (ulong)i), s, device).Keep())
            .ToArray();
        for (int i = 0; i < inputs.Length; i++) inputs[i].RequiresGrad = i != 0 || xGrad;
        inputs[1].RequiresGrad = false; // the frozen base
        inputs[2].RequiresGrad = false;
        try
        {
            using var profiler = KernelProfiler.Start();
            using var y = Tensor.LoraLinear(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], 1.75f, dropout, new Generator(9));
            using var weights = Tensor.FromArray(Random((int)y.Count, -1f, 1f, 599), y.Shape.ToArray(), device);
            using var loss = (y * weights).Sum();
            loss.Backward();
            var values = new List<float[]> { y.ToArray(), inputs[3].Grad!.ToArray(), inputs[4].Grad!.ToArray() };
            if (xGrad) values.Add(inputs[0].Grad!.ToArray());
            return (values, profiler.Records.Select(r => r.Kernel).ToList());
        }
        finally
        {
            foreach (var x in inputs) x.Dispose();
        }
    }

    [Test]
    public void Fused_lora_matches_cpu_forward_and_gradients(
        [Values(1, 4, 17, 64)] int rank, [Values(0f, 0.1f)] float dropout, [Values(true, false)] bool xGrad)
    {
        Assert.That(Tensor.HasFusedLora(Device.Cuda(0)), "the CUDA backend has the fused kernels");
        var cpu = Run(Device.Cpu, 13, 37, 29, rank, dropout, xGrad);
        var cuda = Run(Device.Cuda(0), 13, 37, 29, rank, dropout, xGrad);
        string[] names = { "y", "dA", "dB", "dX" };
        for (int i = 0; i < cpu.Values.Count; i++)
        {
            double scale = cpu.Values[i].Max(v => Math.Abs((double)v)), worst = 0;
            for (int k = 0; k < cpu.Values[i].Length; k++) worst = Math.Max(worst, Math.Abs((double)cpu.Values[i][k] - cuda.Values[i][k]));
            Assert.That(worst, Is.LessThanOrEqualTo(1e-5 * scale), $"{names[i]}: max |cuda - cpu| {worst:G3} vs max |cpu| {scale:G3}");
        }
        Assert.That(cuda.Kernels, Does.Contain("lora_down").And.Contain("gemm_lora_up").And.Contain("lora_up_backward")
            .And.Contain("lora_down_backward"));
        if (xGrad && dropout == 0f) Assert.That(cuda.Kernels, Does.Contain("gemm_lora_dx"), "dX's GEMM carries the low-rank term");
        Assert.That(cuda.Kernels, Does.Not.Contain("random_uniform"), "no dropout tensor on the device either");
    }

    /// <summary>The QKV form (one lora_down_qkv launch, one lora_down_backward_qkv_gx launch): y_q, y_k, y_v, every dA, dB, dX.</summary>
    private static (List<float[]> Values, List<string> Kernels) RunQkv(Device device, int tokens, int features, int rank, float dropout)
    {
        var shapes = new List<int[]> { new[] { tokens, features } };
        for (int p = 0; p < 3; p++)
            shapes.AddRange(new[] { new[] { features, features }, new[] { features }, new[] { rank, features }, new[] { features, rank } });
        var inputs = shapes
            .Select((s, i) => Tensor.FromArray(Random(s.Aggregate(1, (a, b) => a * b), -1f, 1f, 700 + (ulong)i), s, device).Keep()).ToArray();
        for (int i = 0; i < inputs.Length; i++) inputs[i].RequiresGrad = i == 0 || (i - 1) % 4 >= 2;
        try
        {
            using var profiler = KernelProfiler.Start();
            var g = new Generator(9);
            LoraProjection P(int p) =>
                new(inputs[1 + 4 * p], inputs[2 + 4 * p], inputs[3 + 4 * p], inputs[4 + 4 * p], 1.75f - p * 0.5f, dropout, g);
            var ys = Tensor.LoraQkv(inputs[0], P(0), P(1), P(2));
            using var loss = ys.Select((y, p) => (y * (p + 1f)).Sum()).Aggregate((a, b) => a + b);
            loss.Backward();
            var values = ys.Select(y => y.ToArray()).ToList();
            for (int p = 0; p < 3; p++) values.AddRange(new[] { inputs[3 + 4 * p].Grad!.ToArray(), inputs[4 + 4 * p].Grad!.ToArray() });
            values.Add(inputs[0].Grad!.ToArray());
            foreach (var y in ys) y.Dispose();
            return (values, profiler.Records.Select(r => r.Kernel).ToList());
        }
        finally
        {
            foreach (var x in inputs) x.Dispose();
        }
    }

    [Test]
    public void Fused_lora_qkv_matches_cpu_forward_and_gradients([Values(1, 8, 17)] int rank, [Values(0f, 0.1f)] float dropout)
    {
        var cpu = RunQkv(Device.Cpu, 5, 19, rank, dropout);
        var cuda = RunQkv(Device.Cuda(0), 5, 19, rank, dropout);
        for (int i = 0; i < cpu.Values.Count; i++)
        {
            double scale = cpu.Values[i].Max(v => Math.Abs((double)v)), worst = 0;
            for (int k = 0; k < cpu.Values[i].Length; k++)
                worst = Math.Max(worst, Math.Abs((double)cpu.Values[i][k] - cuda.Values[i][k]));
            Assert.That(worst, Is.LessThanOrEqualTo(1e-5 * scale), $"value {i}: max |cuda - cpu| {worst:G3} vs max |cpu| {scale:G3}");
        }
        Assert.That(cuda.Kernels, Does.Contain("lora_down_qkv").And.Contain("lora_down_backward_qkv"));
        Assert.That(cuda.Kernels, Does.Not.Contain("lora_down").And.Not.Contain("random_uniform"));
    }
}
