using Finetune.Nn;
using Finetune.Nn.IO;
using Finetune.Peft.Lora;
using PeftApi = Finetune.Peft.Peft;

namespace Finetune.Tests.Peft;

/// <summary>
/// One BERT encoder layer with LoRA on query, value and intermediate.dense against PyTorch 1.13: the fixture is
/// written by bench/peers/make_lora_layer_fixture.py (weights, input, padding mask, output, gradients).
/// </summary>
public class LoraLayerParityTests
{
    private const double Tolerance = 1e-4;

    [Test]
    public void Forward_and_gradients_of_a_lora_bert_layer_match_pytorch()
    {
        var path = Path.Combine(TestContext.CurrentContext.TestDirectory, "fixtures", "lora_layer.safetensors");
        var f = SafeTensors.Load(path);
        try
        {
            var config = new BertConfig
            {
                HiddenSize = 16, NumHeads = 4, IntermediateSize = 32, NumLayers = 1, HiddenDropout = 0f, AttentionDropout = 0f,
            };
            using var layer = new BertLayer(config, new Generator(0));
            var peft = PeftApi.Apply(layer, new LoraConfig
            {
                Rank = 4, Alpha = 8f, TargetModules = new[] { "attention.self.query", "attention.self.value", "intermediate.dense" },
            });
            Assert.That(peft.AdaptedPaths, Has.Count.EqualTo(3));
            var state = f.Where(kv => kv.Key.StartsWith("param.", StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key["param.".Length..], kv => kv.Value);
            layer.LoadStateDict(state, strict: true, path);

            using var scope = TensorScope.Begin();
            var x = f["input"];
            x.RequiresGrad = true;
            var y = layer.Forward(x, BertModel.AdditiveMask(f["attention_mask"]));
            Compare("output", y.ToArray(), f["output"].ToArray());
            y.Backward(f["grad_output"]);
            Compare("grad.input", x.Grad!.ToArray(), f["grad.input"].ToArray());
            int compared = 0;
            foreach (var (name, p) in layer.NamedParameters())
            {
                if (!p.Trainable)
                {
                    Assert.That(p.Grad, Is.Null, name);
                    continue;
                }
                Assert.That(f.ContainsKey("grad." + name), name);
                Compare("grad." + name, p.Grad!.ToArray(), f["grad." + name].ToArray());
                compared++;
            }
            Assert.That(compared, Is.EqualTo(6), "lora_A and lora_B of three targets");
        }
        finally
        {
            foreach (var t in f.Values) t.Dispose();
        }
    }

    private static void Compare(string what, float[] actual, float[] expected)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what);
        double maxErr = actual.Zip(expected, (a, e) => (double)Math.Abs(a - e)).Max();
        double scale = expected.Max(e => Math.Abs(e));
        TestContext.Out.WriteLine($"{what}: max abs error vs PyTorch {maxErr:E2} (max |value| {scale:F3})");
        Assert.That(maxErr, Is.LessThan(Tolerance), what);
    }
}
