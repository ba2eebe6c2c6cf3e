using Finetune.Nn;
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
    [Test]
    public void Forward_and_gradients_of_a_layer_with_every_hook_match_pytorch()
    {
        var f = LayerParity.LoadFixture("peft_layer.safetensors");
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
            LayerParity.AssertMatches(layer, f, 16, "LoRA A/B ×2, DoRA magnitude, IA3 ×2, prefix table, 2 adapters × 4");
        }
        finally
        {
            foreach (var t in f.Values) t.Dispose();
        }
    }
}
