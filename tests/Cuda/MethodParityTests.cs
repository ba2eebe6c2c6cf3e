using Finetune.Peft;

namespace Finetune.Tests.Cuda;

/// <summary>
/// Every registered PEFT method trained for 20 steps through Engine.Train on the CUDA backend and on the CPU from the
/// same seed (the small BERT with dropout on, and the small ViT): the loss sequences and the final trainable weights
/// agree within 1e-3 relative (weights: to the tensor's largest entry, at least the distance AdamW can travel in 20 steps).
/// </summary>
public class MethodParityTests : CudaFixture
{
    public MethodParityTests(string kind) : base(kind) { }

    private const int Steps = 20;
    private const float Tolerance = 1e-3f;

    [TestCaseSource(typeof(SmallModels), nameof(SmallModels.Presets))]
    public void Twenty_steps_match_the_cpu(ModelFamily family, string method)
    {
        var options = SmallModels.Options(family, method, Steps);
        var (cpuLosses, cpuWeights) = Run(family, method, Device.Cpu, options);
        var (cudaLosses, cudaWeights) = Run(family, method, Cuda.Device, options);

        Assert.That(cudaLosses, Has.Length.EqualTo(Steps));
        for (int i = 0; i < Steps; i++)
            Assert.That(cudaLosses[i], Is.EqualTo(cpuLosses[i]).Within(Tolerance * Math.Abs(cpuLosses[i])), $"loss at step {i + 1}");
        Assert.That(cudaWeights.Keys, Is.EquivalentTo(cpuWeights.Keys));
        // The largest distance AdamW can move a weight in these steps: the scale of a tensor that starts at zero and only
        // sees rounding noise (BERT's key bias: softmax ignores a constant per query, so its gradient is ~1e-9 noise that
        // Adam's normalisation turns into full-size steps in arbitrary directions on either device).
        float reach = Steps * options.LearningRate;
        foreach (var (name, cpu) in cpuWeights)
        {
            // Relative to the tensor's scale: an entry near zero is compared with the size of its neighbours.
            float scale = MathF.Max(cpu.Max(MathF.Abs), reach), worst = 0f;
            var cuda = cudaWeights[name];
            for (int i = 0; i < cpu.Length; i++) worst = MathF.Max(worst, MathF.Abs(cuda[i] - cpu[i]));
            Assert.That(worst, Is.LessThanOrEqualTo(Tolerance * scale), $"{name}: max |cuda - cpu| {worst:g3} vs max |cpu| {scale:g3}");
        }
        Assert.That(cpuLosses.Distinct().Count(), Is.GreaterThan(1), "the runs train");
    }

    private static (float[] Losses, Dictionary<string, float[]> Weights) Run(ModelFamily family, string method, Device device, Finetune.Nn.Training.TrainOptions options)
    {
        using var prepared = SmallModels.Prepare(family, method, device);
        var report = SmallModels.Train(family, prepared, options);
        return (report.Losses.Select(l => l.Loss).ToArray(), SmallModels.Trainable(prepared.Model));
    }
}
