using Finetune.Nn.Training;
using Finetune.App;
using Finetune.Peft;

namespace Finetune.Tests.Cuda;

/// <summary>
/// Engine.Train on the CUDA backend end to end: evaluation, best weights, checkpoints, exact resume on the device, and
/// resuming a checkpoint of one device on the other (the same loss sequence within float tolerance).
/// </summary>
public class EngineOnDeviceTests : CudaFixture
{
    public EngineOnDeviceTests(string kind) : base(kind) { }

    private static TrainOptions Options() => SmallModels.Options(ModelFamily.Bert, "lora", 6) with { EvalEvery = 3, LearningRate = 5e-3f };

    private static TrainingReport Train(Device device, TrainOptions options)
    {
        using var prepared = SmallModels.PrepareBert("lora", Device.Cpu);
        // The device comes from the options: Engine.Train moves the model, and batches collated on the CPU are uploaded.
        return Engine.Train(prepared.Classifier, SmallModels.BertData(Device.Cpu, validation: 16), options with { Device = device });
    }

    private static string TempDir() => Directory.CreateTempSubdirectory("finetune-device-").FullName;

    [Test]
    public void Train_evaluates_checkpoints_and_resumes_exactly_on_the_device()
    {
        var straight = Train(Cuda.Device, Options());
        Assert.That(straight.Evaluations.Select(e => e.Step), Is.EqualTo(new[] { 3, 6 }));
        Assert.That(straight.PeakMemoryBytes, Is.GreaterThan(0), "the device allocator's peak is reported");

        var dir = TempDir();
        try
        {
            Train(Cuda.Device, Options() with { CheckpointEvery = 3, OutputDirectory = dir });
            Assert.That(File.Exists(Path.Combine(dir, "report.json")));
            Assert.That(Directory.GetDirectories(dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "checkpoint-3", "checkpoint-6" }));
            var resumed = Train(Cuda.Device, Options() with { ResumeFrom = Path.Combine(dir, "checkpoint-3") });
            Assert.That(resumed.Losses.Select(l => l.Loss), Is.EqualTo(straight.Losses.Select(l => l.Loss)), "bit-identical losses after resume");
            Assert.That(resumed.Evaluations.Select(e => e.Loss), Is.EqualTo(straight.Evaluations.Select(e => e.Loss)));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [TestCase(true)]
    [TestCase(false)]
    public void A_checkpoint_resumes_on_the_other_device_with_the_same_losses(bool cpuToDevice)
    {
        Device from = cpuToDevice ? Device.Cpu : Cuda.Device, to = cpuToDevice ? Cuda.Device : Device.Cpu;
        var straight = Train(to, Options());
        var dir = TempDir();
        try
        {
            Train(from, Options() with { CheckpointEvery = 3, OutputDirectory = dir });
            var resumed = Train(to, Options() with { ResumeFrom = Path.Combine(dir, "checkpoint-3") });
            Assert.That(resumed.Losses, Has.Count.EqualTo(6));
            for (int i = 0; i < 6; i++)
                Assert.That(resumed.Losses[i].Loss, Is.EqualTo(straight.Losses[i].Loss).Within(1e-3f * straight.Losses[i].Loss), $"loss at step {i + 1}");
            Assert.That(resumed.Evaluations.Select(e => e.Accuracy), Is.EqualTo(straight.Evaluations.Select(e => e.Accuracy)));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
