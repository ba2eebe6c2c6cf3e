using Finetune.App;
using Finetune.Kernels.Cuda;
using Finetune.Kernels.Cuda.Host;

namespace Finetune.Tests.Cuda;

/// <summary>The gpu-check table: on the host device at a tiny scale (every CI run) and on the GPU when there is one.</summary>
public class GpuCheckTests
{
    private static HostCudaDriver HostDriver()
    {
        if (!File.Exists(HostCudaDriver.DefaultLibraryPath)) Assert.Fail($"{HostCudaDriver.DefaultLibraryPath} was not built: install g++ and rebuild the tests");
        return new HostCudaDriver(memoryBytes: 256L << 20);
    }

    [Test]
    public void Gpu_check_on_the_host_device_prints_every_kernel_and_exits_zero()
    {
        using var backend = new CudaBackend(HostDriver(), new HostCudaBlas(), Device.Cuda(5));
        var output = new StringWriter();
        int code = GpuCheck.Run(output, backend, scale: 1.0 / 512, iterations: 1);
        string text = output.ToString();
        Assert.That(code, Is.Zero, text);
        foreach (var kernel in new[] { "fill_f32", "unary_f32 gelu", "softmax_f32", "layer_norm_f32", "gather_f32", "adamw_f32", "gemm (cuBLAS sgemm)",
            "lora v1 composed", "lora v2 fused" })
            Assert.That(text, Does.Contain(kernel));
        Assert.That(text, Does.Contain("GB/s").And.Contain("TFLOP/s").And.Contain("every kernel matches"));
        Assert.That(text, Does.Not.Contain("MISMATCH"));
    }

    /// <summary>A BLAS that reports success without computing anything.</summary>
    private sealed class SilentBlas : ICudaBlas
    {
        public int SetStream(nint stream) => 0;
        public int SgemmStridedBatched(BlasOp transA, BlasOp transB, int m, int n, int k, float alpha, ulong a, int lda, long strideA,
            ulong b, int ldb, long strideB, float beta, ulong c, int ldc, long strideC, int batch) => 0;
        public int GemmEx(BlasOp transA, BlasOp transB, int m, int n, int k, float alpha, ulong a, int lda, ulong b, int ldb,
            float beta, ulong c, int ldc, bool allowTf32) => 0;
        public int GemmStridedBatchedEx(BlasOp transA, BlasOp transB, int m, int n, int k, float alpha, ulong a, int lda, long strideA,
            ulong b, int ldb, long strideB, float beta, ulong c, int ldc, long strideC, int batch, bool allowTf32) => 0;
        public void Dispose() { }
    }

    [Test]
    public void Gpu_check_reports_a_mismatch_with_a_non_zero_exit_code()
    {
        using var backend = new CudaBackend(HostDriver(), new SilentBlas(), Device.Cuda(5));
        var output = new StringWriter();
        int code = GpuCheck.Run(output, backend, scale: 1.0 / 512, iterations: 1);
        Assert.That(code, Is.EqualTo(1));
        // The two rows that use cuBLAS: the GEMM and the composed LoRA path.
        Assert.That(output.ToString(), Does.Contain("MISMATCH").And.Contain("2 kernel(s) differ"));
        var mismatched = output.ToString().Split('\n').Where(l => l.Contains("MISMATCH")).ToList();
        Assert.That(mismatched.Any(l => l.StartsWith("gemm")) && mismatched.Any(l => l.StartsWith("lora v1 composed")), string.Join("\n", mismatched));
    }

    [Test]
    public void Gpu_check_on_the_real_gpu()
    {
        var probe = CudaDevice.Probe();
        if (!probe.Available)
        {
            var output = new StringWriter();
            Assert.That(GpuCheck.Run(output), Is.EqualTo(2), "no GPU is its own exit code");
            Assert.That(output.ToString(), Does.Contain(probe.Reason));
            Assert.Ignore($"no GPU: {probe.Reason}");
        }
        var table = new StringWriter();
        int code = GpuCheck.Run(table, iterations: 5);
        TestContext.Out.WriteLine(table.ToString());
        Assert.That(code, Is.Zero, table.ToString());
    }
}
