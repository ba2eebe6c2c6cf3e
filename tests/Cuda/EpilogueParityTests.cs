using Finetune.Kernels.Profiling;
using Finetune.Nn;

namespace Finetune.Tests.Cuda;

/// <summary>
/// The GEMM epilogue kernels of kernels.cu (cuBLAS + linear_epilogue_f32, dropout_backward_f32) against the CPU's fused GEMM:
/// the same op (<see cref="Tensor.LinearEpilogue"/>), the same dropout stream, forward and every gradient within 1e-5 relative;
/// the profiler shows the fused kernels ran. Sizes stay small: on the host device every CUDA thread is a fiber.
/// </summary>
public class EpilogueParityTests : CudaFixture
{
    public EpilogueParityTests(string kind) : base(kind) { }

    private static (List<float[]> Values, List<string> Kernels) Run(Device device, int tokens, int inF, int outF, bool gelu, float dropout,
        bool residual)
    {
        var shapes = new[] { new[] { tokens, inF }, new[] { outF, inF }, new[] { outF }, new[] { tokens, outF } };
        var inputs = shapes
            .Select((s, i) => Tensor.FromArray(Random(s.Aggregate(1, (a, b) => a * b), -1f, 1f, 700 + (ulong)i), s, device).Keep())
            .ToArray();
        foreach (var x in inputs) x.RequiresGrad = true;
        try
        {
            using var profiler = KernelProfiler.Start();
            var act = gelu ? EpilogueActivation.GeluErf : EpilogueActivation.None;
            using var y = Tensor.LinearEpilogue(inputs[0], inputs[1], inputs[2], act, dropout, new Generator(9), residual ? inputs[3] : null);
            using var weights = Tensor.FromArray(Random((int)y.Count, -1f, 1f, 799), y.Shape.ToArray(), device);
            using var loss = (y * weights).Sum();
            loss.Backward();
            var values = new List<float[]> { y.ToArray(), inputs[0].Grad!.ToArray(), inputs[1].Grad!.ToArray(), inputs[2].Grad!.ToArray() };
            if (residual) values.Add(inputs[3].Grad!.ToArray());
            return (values, profiler.Records.Select(r => r.Kernel).ToList());
        }
        finally
        {
            foreach (var x in inputs) x.Dispose();
        }
    }

    [Test]
    public void Epilogue_matches_cpu_forward_and_gradients([Values(true, false)] bool gelu, [Values(0f, 0.3f)] float dropout,
        [Values(true, false)] bool residual)
    {
        Assert.That(Tensor.HasGemmEpilogues(Device.Cuda(0)), "the CUDA backend has the epilogue kernels");
        var cpu = Run(Device.Cpu, 13, 37, 29, gelu, dropout, residual);
        var cuda = Run(Device.Cuda(0), 13, 37, 29, gelu, dropout, residual);
        string[] names = { "y", "dX", "dW", "db", "dResidual" };
        for (int i = 0; i < cpu.Values.Count; i++)
        {
            double scale = cpu.Values[i].Max(v => Math.Abs((double)v)), worst = 0;
            for (int k = 0; k < cpu.Values[i].Length; k++) worst = Math.Max(worst, Math.Abs((double)cpu.Values[i][k] - cuda.Values[i][k]));
            Assert.That(worst, Is.LessThanOrEqualTo(1e-5 * scale), $"{names[i]}: max |cuda - cpu| {worst:G3} vs max |cpu| {scale:G3}");
        }
        string fused = "gemm_bias" + (gelu ? "_gelu" : "") + (dropout > 0 ? "_dropout" : "") + (residual ? "_residual" : "");
        Assert.That(cuda.Kernels, Does.Contain(fused));
        if (dropout > 0) Assert.That(cuda.Kernels, Does.Contain("dropout_backward").And.Not.Contain("random_uniform"));
    }

    [Test]
    public void Bert_layer_on_the_device_runs_the_fused_epilogues()
    {
        var config = new BertConfig
        {
            VocabSize = 50, HiddenSize = 16, NumLayers = 1, NumHeads = 2, IntermediateSize = 24, MaxPositions = 8, HiddenDropout = 0.1f,
            AttentionDropout = 0f,
        };
        using var scope = TensorScope.Begin();
        var layer = new BertLayer(config, new Generator(3));
        layer.To(Device.Cuda(0));
        layer.Train();
        var x = Tensor.FromArray(Random(2 * 5 * 16, -1f, 1f, 5), new[] { 2, 5, 16 }, Device.Cuda(0));
        using var profiler = KernelProfiler.Start();
        layer.Forward(x, null).Sum().Backward();
        var kernels = profiler.Records.Select(r => r.Kernel).ToList();
        Assert.That(kernels, Does.Contain("gemm_bias_gelu").And.Contain("gemm_bias_dropout_residual").And.Contain("dropout_backward"));
    }
}
