using Finetune.Peft;
using Finetune.Nn;
using Finetune.Peft.Lora;

namespace Finetune.Tests.Peft;

/// <summary>
/// One BERT encoder layer with LoRA on query, value and intermediate.dense against PyTorch 1.13: the fixture is
/// written by bench/peers/make_lora_layer_fixture.py (weights, input, padding mask, output, gradients).
/// </summary>
public class LoraLayerParityTests
{
    [Test]
    public void Forward_and_gradients_of_a_lora_bert_layer_match_pytorch()
    {
        var f = LayerParity.LoadFixture("lora_layer.safetensors");
        try
        {
            var config = new BertConfig
            {
                HiddenSize = 16, NumHeads = 4, IntermediateSize = 32, NumLayers = 1, HiddenDropout = 0f, AttentionDropout = 0f,
            };
            using var layer = new BertLayer(config, new Generator(0));
            var peft = PeftModel.Apply(layer, new LoraConfig
            {
                Rank = 4, Alpha = 8f, TargetModules = new[] { "attention.self.query", "attention.self.value", "intermediate.dense" },
            });
            Assert.That(peft.AdaptedPaths, Has.Count.EqualTo(3));
            LayerParity.AssertMatches(layer, f, 6, "lora_A and lora_B of three targets");
        }
        finally
        {
            foreach (var t in f.Values) t.Dispose();
        }
    }
}
