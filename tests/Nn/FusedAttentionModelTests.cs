using Finetune.Kernels.Profiling;
using Finetune.Nn;
using Finetune.Peft;
using Finetune.Peft.Prefix;

namespace Finetune.Tests.Nn;

/// <summary>
/// BERT's self-attention fused (the default) against composed (<see cref="BertSelfAttention.Fused"/> false) in a whole
/// model in training mode: padding, attention dropout and prefix tuning (keys longer than queries) give the same loss
/// and gradients, and the profiler shows which path ran, so a silent fallback to the composed ops fails.
/// </summary>
public class FusedAttentionModelTests
{
    private static readonly BertConfig Config = CheckpointTests.Tiny with { AttentionDropout = 0.2f, HiddenDropout = 0.1f, NumLayers = 2 };

    private sealed record Outcome(float Loss, Dictionary<string, float[]> Grads, List<string> Kernels);

    private static Outcome Run(bool fused, bool prefix)
    {
        using var scope = TensorScope.Begin();
        var model = new BertForSequenceClassification(Config, 3, PoolingMode.Mean, new Generator(2));
        var peft = prefix ? PeftModel.Apply<Module>(model, new PrefixTuningConfig { NumVirtualTokens = 3 }) : null;
        BertSelfAttention.SetFused(model, fused);
        model.Train();
        var ids = Tensor.FromArray(new[] { 2, 7, 9, 3, 11, 2, 5, 3, 0, 0 }, 2, 5);
        var mask = Tensor.FromArray(new[] { 1f, 1, 1, 1, 1, 1, 1, 1, 0, 0 }, 2, 5);
        using var profiler = KernelProfiler.Start();
        var loss = model.Forward(ids, mask).CrossEntropy(Tensor.FromArray(new[] { 0, 2 }, 2));
        loss.Backward();
        var grads = model.NamedParameters().Where(p => p.Value.Grad is not null).ToDictionary(p => p.Key, p => p.Value.Grad!.ToArray());
        var outcome = new Outcome(loss.Item(), grads, profiler.Records.Select(r => r.Kernel).ToList());
        peft?.Dispose();
        model.Dispose();
        return outcome;
    }

    [Test]
    public void Fused_and_composed_attention_train_the_same([Values(false, true)] bool prefix)
    {
        var composed = Run(false, prefix);
        var fused = Run(true, prefix);
        Assert.That(fused.Loss, Is.EqualTo(composed.Loss).Within(1e-5).Percent);
        Assert.That(fused.Grads.Keys, Is.EquivalentTo(composed.Grads.Keys));
        foreach (var (name, expected) in composed.Grads)
        {
            var actual = fused.Grads[name];
            double scale = expected.Max(v => Math.Abs((double)v)), worst = 0;
            for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs((double)actual[i] - expected[i]));
            Assert.That(worst, Is.LessThanOrEqualTo(1e-4 * Math.Max(scale, 1e-3)),
                $"{name}: max |fused - composed| {worst:G3} vs {scale:G3}");
        }
        Assert.That(fused.Kernels, Does.Contain("attention_forward").And.Contain("attention_backward"), "the fused kernels ran");
        Assert.That(fused.Kernels.Where(k => k.StartsWith("softmax", StringComparison.Ordinal)), Is.Empty,
            "no softmax kernel (the loss's log_softmax aside): no scores tensor");
        Assert.That(composed.Kernels, Does.Not.Contain("attention_forward"), "Fused = false runs the composed ops");
        Assert.That(composed.Kernels.Where(k => k.StartsWith("softmax", StringComparison.Ordinal)), Is.Not.Empty);
    }
}
