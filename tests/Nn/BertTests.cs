using Finetune.Peft;
using Finetune.Nn;
using Finetune.Nn.IO;
using Finetune.Peft.Lora;

namespace Finetune.Tests.Nn;

public class BertTests
{
    private static readonly BertConfig Tiny = CheckpointTests.Tiny with { HiddenDropout = 0f, AttentionDropout = 0f, NumLayers = 3 };

    [Test]
    public void Freeze_lower_layers_freezes_embeddings_and_the_first_n_layers_only()
    {
        using var model = new BertModel(Tiny, new Generator(1));
        model.FreezeLowerLayers(2);
        foreach (var (name, p) in model.NamedParameters())
        {
            bool shouldFreeze = name.StartsWith("embeddings.", StringComparison.Ordinal)
                || name.StartsWith("encoder.layer.0.", StringComparison.Ordinal) || name.StartsWith("encoder.layer.1.", StringComparison.Ordinal);
            Assert.That(p.Trainable, Is.EqualTo(!shouldFreeze), name);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => model.FreezeLowerLayers(4));
    }

    [Test]
    public void Classifier_backward_reaches_every_trainable_parameter_and_padding_does_not_change_logits()
    {
        using var model = new BertForSequenceClassification(Tiny, 3, PoolingMode.Mean, new Generator(2));
        model.Eval();
        using var scope = TensorScope.Begin();
        var ids = Tensor.FromArray(new[] { 2, 7, 9, 3, 2, 5, 3, 0 }, 2, 4);
        var mask = Tensor.FromArray(new[] { 1f, 1, 1, 1, 1, 1, 1, 0 }, 2, 4);
        var logits = model.Forward(ids, mask);
        Assert.That(logits.Shape, Is.EqualTo(new[] { 2, 3 }));
        var alone = model.Forward(Tensor.FromArray(new[] { 2, 5, 3 }, 1, 3), Tensor.Ones(1, 3)).ToArray();
        var row1 = logits.ToArray()[3..];
        for (int i = 0; i < 3; i++) Assert.That(row1[i], Is.EqualTo(alone[i]).Within(1e-5));
        model.Train();
        model.Forward(ids, mask).CrossEntropy(Tensor.FromArray(new[] { 0, 2 }, 2)).Backward();
        var noGrad = model.NamedParameters().Where(p => p.Value.Grad is null).Select(p => p.Key).ToArray();
        // The pooler is unused under mean pooling, and embedding rows of unused ids get zero (not missing) gradients.
        Assert.That(noGrad, Is.EquivalentTo(new[] { "bert.pooler.dense.weight", "bert.pooler.dense.bias" }));
    }

    [Test]
    public void Pre_layer_norm_layer_applies_norms_before_each_sublayer()
    {
        var config = Tiny with { PreLayerNorm = true, NumLayers = 1 };
        using var layer = new BertLayer(config, new Generator(5));
        using var scope = TensorScope.Begin();
        var x = Tensor.Normal(new[] { 2, 3, 16 }, generator: new Generator(6));
        var attn = layer.Attention;
        var h = x + attn.Output.Dense.Forward(attn.Self.Forward(attn.Output.LayerNorm.Forward(x), null));
        var expected = h + layer.Output.Dense.Forward(layer.Intermediate.Forward(layer.Output.LayerNorm.Forward(h)));
        Assert.That(layer.Forward(x, null).ToArray(), Is.EqualTo(expected.ToArray()).Within(1e-6f));
        var post = new BertLayer(config with { PreLayerNorm = false }, new Generator(5));
        using (post)
            Assert.That(post.Forward(x, null).ToArray(), Is.Not.EqualTo(expected.ToArray()).Within(1e-3f));
    }

    [Test]
    public void MiniLm_classifier_with_lora_on_query_and_value_has_the_expected_trainable_count()
    {
        using var model = new BertForSequenceClassification(MiniLm.LoadModel(), 2, PoolingMode.Mean, new Generator(42));
        var peft = PeftModel.Apply(model, new LoraConfig { Rank = 8, Alpha = 16, ModulesToSave = new[] { "classifier" } });
        var report = peft.TrainableReport();
        long lora = 6L * 2 * 8 * (384 + 384), head = 384L * 2 + 2;
        Assert.That(report.Trainable, Is.EqualTo(lora + head));
        Assert.That(report.Total, Is.EqualTo(22713216L + lora + head));
        TestContext.Out.WriteLine(report);
    }
}
