using Finetune.Kernels.Cpu;
using Finetune.Kernels.Profiling;
using Finetune.Peft;

namespace Finetune.Tests.Cuda;

/// <summary>
/// A full Engine.Train step of every registered method on the CUDA backend while the CPU backend throws: nothing in
/// the step falls back to the host, and the only transfers are the batch upload and the reads of the loss and the
/// gradient norm.
/// </summary>
[NonParallelizable]
public class NoFallbackTests : CudaFixture
{
    public NoFallbackTests(string kind) : base(kind) { }

    [TestCaseSource(typeof(SmallModels), nameof(SmallModels.Presets))]
    public void A_training_step_runs_entirely_on_the_device(ModelFamily family, string method)
    {
        using var prepared = SmallModels.Prepare(family, method, Cuda.Device);
        Assert.That(prepared.Model.Parameters().Select(p => p.Device).Distinct(), Is.EqualTo(new[] { Cuda.Device }), "the whole model moved");
        var options = SmallModels.Options(family, method, 1);
        int batchTensors = family == ModelFamily.Bert ? 3 : 2;
        Backends.Register(new ThrowingBackend(Device.Cpu));
        IReadOnlyList<KernelRecord> records;
        try
        {
            using var profiler = KernelProfiler.Start();
            var report = SmallModels.Train(family, prepared, options);
            Assert.That(report.Steps, Is.EqualTo(1));
            Assert.That(float.IsFinite(report.Losses[0].Loss));
            records = profiler.Records.ToList();
        }
        finally
        {
            Backends.Register(CpuBackend.Instance);
        }
        Assert.That(records.Count(r => r.Kernel == "copy_h2d"), Is.EqualTo(batchTensors), "uploads: the batch only");
        Assert.That(records.Count(r => r.Kernel == "copy_d2h"), Is.EqualTo(2), "downloads: the loss and the gradient norm only");
        Assert.That(records.Count, Is.GreaterThan(50), "the step ran its kernels through the profiled device backend");
    }

    [Test]
    public void The_throwing_cpu_backend_catches_a_host_fallback()
    {
        Backends.Register(new ThrowingBackend(Device.Cpu));
        try
        {
            var e = Assert.Throws<InvalidOperationException>(() => Tensor.Zeros(3))!;
            Assert.That(e.Message, Does.Contain("inside a device step"));
        }
        finally
        {
            Backends.Register(CpuBackend.Instance);
        }
    }
}
