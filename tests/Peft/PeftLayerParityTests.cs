using Finetune.Nn;
using Finetune.Nn.IO;
using Finetune.Peft.Adapters;
using Finetune.Peft.IA3;
using Finetune.Peft.Lora;
using Finetune.Peft.Prefix;

namespace Finetune.Tests.Peft;

/// <summary>
/// One pre-LN encoder layer carrying every PEFT hook at once (DoRA, LoRA, IA3 on outputs and inputs, a key/value
/// prefix, a Houlsby and a parallel adapter) against PyTorch 1.13: the fixture is written by
/// bench/peers/make_peft_layer_fixture.py (weights, input, padding mask, output, gradients).
/// </summary>
public class PeftLayerParityTests
{
    private const double Tolerance = 1e-4;

    [Test]
    public void Forward_and_gradients_of_a_layer_with_every_hook_match_pytorch()
    {
        var path = Path.Combine(TestContext.CurrentContext.TestDirectory, "fixtures", "peft_layer.safetensors");
        var f = SafeTensors.Load(path);
        try
        {
            var config = new BertConfig
            {
                HiddenSize = 16, NumHeads = 4, IntermediateSize = 32, NumLayers = 1, HiddenDropout = 0f, AttentionDropout = 0f, PreLayerNorm = true,
            };
            var g = new Generator(0);
            using var layer = new BertLayer(config, g);
            layer.Freeze();
            var self = layer.Attention.Self;
            Linear Base(Module parent, string name) => (Linear)parent.NamedChildren().First(c => c.Key == name).Value;
            self.ReplaceChild("query", new LoraLinear(Base(self, "query"), 4, 2f, 0f, g, useDora: true));
            self.ReplaceChild("value", new LoraLinear(Base(self, "value"), 4, 2f, 0f, g));
            self.ReplaceChild("key", new Ia3Linear(Base(self, "key"), feedforward: false));
            layer.Output.ReplaceChild("dense", new Ia3Linear(Base(layer.Output, "dense"), feedforward: true));
            var encoder = layer.AddChild(PrefixTuningMethod.EncoderName, new PrefixEncoder(new PrefixTuningConfig { NumVirtualTokens = 3 }, 1, 16, g));
            self.AddChild(Hooks.Prefix, new LayerPrefix(encoder, 0));
            layer.AddChild(Hooks.AttentionAdapter, new BottleneckAdapter(16, 4, parallel: false, 1f, "relu", g));
            layer.AddChild(Hooks.OutputAdapter, new BottleneckAdapter(16, 4, parallel: true, 4f, "gelu", g));
            var state = f.Where(kv => kv.Key.StartsWith("param.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key["param.".Length..], kv => kv.Value);
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
            Assert.That(compared, Is.EqualTo(16), "LoRA A/B ×2, DoRA magnitude, IA3 ×2, prefix table, 2 adapters × 4");
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
