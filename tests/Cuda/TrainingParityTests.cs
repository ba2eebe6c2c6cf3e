namespace Finetune.Tests.Cuda;

/// <summary>
/// A small MLP (Matmul, Add, Gelu/Relu, CrossEntropy, the AdamW kernel) trained for 300 steps on each backend from
/// the same Philox-initialised weights: the loss curves agree within 1e-3 relative at every step, and training works.
/// </summary>
public class TrainingParityTests : CudaFixture
{
    public TrainingParityTests(string kind) : base(kind) { }

    private const int Batch = 32, Inputs = 8, Hidden = 32, Classes = 4, Steps = 300;

    private static int[] Labels(float[] x)
    {
        // A fixed linear rule of the inputs, so the task is learnable.
        var labels = new int[Batch];
        for (int r = 0; r < Batch; r++)
        {
            int best = 0;
            float bestScore = float.NegativeInfinity;
            for (int c = 0; c < Classes; c++)
            {
                float s = 0;
                for (int i = 0; i < Inputs; i++) s += x[r * Inputs + i] * MathF.Sin(1 + c * Inputs + i);
                if (s > bestScore) { bestScore = s; best = c; }
            }
            labels[r] = best;
        }
        return labels;
    }

    private static float[] Train(Device device, bool gelu)
    {
        var gen = new Generator(2024);
        var x = Tensor.Normal(new[] { Batch, Inputs }, 0f, 1f, gen, device).Keep();
        var y = Tensor.FromArray(Labels(x.ToArray()), new[] { Batch }, device).Keep();
        var parameters = new[]
        {
            Tensor.Normal(new[] { Inputs, Hidden }, 0f, 0.3f, gen, device).Keep(),
            Tensor.Zeros(new[] { Hidden }, device).Keep(),
            Tensor.Normal(new[] { Hidden, Classes }, 0f, 0.3f, gen, device).Keep(),
            Tensor.Zeros(new[] { Classes }, device).Keep(),
        };
        var moments = parameters.SelectMany(p => new[] { Tensor.Zeros(p.Shape.ToArray(), device).Keep(), Tensor.Zeros(p.Shape.ToArray(), device).Keep() }).ToArray();
        foreach (var p in parameters) p.RequiresGrad = true;
        var losses = new float[Steps];
        try
        {
            for (int step = 1; step <= Steps; step++)
            {
                using (TensorScope.Begin())
                {
                    var h = x.Matmul(parameters[0]) + parameters[1];
                    h = gelu ? h.Gelu() : h.Relu();
                    var logits = h.Matmul(parameters[2]) + parameters[3];
                    var loss = logits.CrossEntropy(y);
                    loss.Backward();
                    losses[step - 1] = loss.Item();
                }
                const float b1 = 0.9f, b2 = 0.999f;
                var hp = new AdamWStep(1e-2f, b1, b2, 1e-8f, 1e-2f, 1f - MathF.Pow(b1, step), 1f - MathF.Pow(b2, step));
                for (int i = 0; i < parameters.Length; i++)
                {
                    var p = parameters[i];
                    p.Backend.AdamW(p.Dense, p.Grad!.Dense, moments[2 * i].Dense, moments[2 * i + 1].Dense, p.Count, hp);
                    p.ZeroGrad();
                }
            }
        }
        finally
        {
            foreach (var t in parameters.Concat(moments).Append(x).Append(y)) t.Dispose();
        }
        return losses;
    }

    [Test]
    public void Mlp_loss_curves_match_the_cpu([Values] bool gelu)
    {
        var cpu = Train(Device.Cpu, gelu);
        var cuda = Train(Device.Cuda(0), gelu);
        Assert.That(cpu[^1], Is.LessThan(0.5f * cpu[0]), "the CPU run learns");
        for (int i = 0; i < Steps; i++)
            Assert.That(cuda[i], Is.EqualTo(cpu[i]).Within(1e-3f * (1f + cpu[i])), $"loss at step {i + 1}");
    }
}
