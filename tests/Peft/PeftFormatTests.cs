using System.Text.Json.Nodes;
using Finetune.Nn;
using Finetune.Nn.IO;
using Finetune.Peft;
using Finetune.Peft.Lora;

namespace Finetune.Tests.Peft;

/// <summary>
/// Adapters in Hugging Face PEFT's layout, written key by key by bench/peers/make_hf_fixtures.py with the logits PyTorch
/// computes for them: they load into the engine and give those logits, and the engine writes the same files back.
/// </summary>
public class PeftFormatTests
{
    private static string Base => HfFixtures.Folder("tiny-bert");

    private static float[] Logits(BertForSequenceClassification model, System.Text.Json.JsonElement e)
    {
        using var scope = TensorScope.Begin();
        using var noGrad = GradMode.NoGrad();
        model.Eval();
        return model.Forward(HfFixtures.Ints(e.GetProperty("input_ids")), HfFixtures.FloatTensor(e.GetProperty("attention_mask")),
            HfFixtures.Ints(e.GetProperty("token_type_ids"))).ToArray();
    }

    private static Dictionary<string, (int[] Shape, float[] Values)> Read(string file)
    {
        var tensors = SafeTensors.Load(file);
        try
        {
            return tensors.ToDictionary(t => t.Key, t => (t.Value.Shape.ToArray(), t.Value.ToArray()));
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    [TestCase("lora")]
    [TestCase("ia3")]
    [TestCase("prefix")]
    [TestCase("prefix-mlp")]
    public void A_peft_adapter_loads_and_gives_pytorchs_logits(string method)
    {
        var dir = HfFixtures.Folder("tiny-bert", method);
        var e = HfFixtures.Expected(dir);
        using var model = HfModelFolder.LoadBertClassifier(Base);
        float[] plain = Logits(model, e);
        using var peft = PeftModel.Load(model, dir);
        var expected = HfFixtures.Floats(e.GetProperty("logits")).Values;
        double err = HfFixtures.MaxAbsDiff(Logits(model, e), expected);
        TestContext.Out.WriteLine($"{method}: max |logit - PyTorch| = {err:E2}");
        Assert.That(err, Is.LessThan(1e-5));
        Assert.That(HfFixtures.MaxAbsDiff(plain, expected), Is.GreaterThan(1e-2), "the adapter changes the logits");
    }

    [TestCase("lora")]
    [TestCase("ia3")]
    [TestCase("prefix")]
    public void Saving_a_loaded_adapter_writes_peft_keys_shapes_and_values_back(string method)
    {
        var dir = HfFixtures.Folder("tiny-bert", method);
        var output = Directory.CreateTempSubdirectory("peft-save-").FullName;
        try
        {
            using (var model = HfModelFolder.LoadBertClassifier(Base))
            using (var peft = PeftModel.Load(model, dir))
            {
                peft.BaseModelNameOrPath = "tiny-bert";
                peft.SaveAdapter(output);
            }
            var expected = Read(Path.Combine(dir, "adapter_model.safetensors"));
            var actual = Read(Path.Combine(output, "adapter_model.safetensors"));
            Assert.That(actual.Keys.Order(), Is.EqualTo(expected.Keys.Order()));
            foreach (var (key, (shape, values)) in expected)
            {
                Assert.That(actual[key].Shape, Is.EqualTo(shape), key);
                Assert.That(actual[key].Values, Is.EqualTo(values), key);
            }
            var written = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "adapter_config.json")))!.AsObject();
            var fixture = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "adapter_config.json")))!.AsObject();
            var required = new[] { "peft_type", "task_type", "base_model_name_or_path", "modules_to_save", "target_modules", "r", "lora_alpha",
                "use_rslora", "use_dora", "feedforward_modules", "num_virtual_tokens", "token_dim", "num_layers", "num_attention_heads",
                "num_transformer_submodules", "prefix_projection" };
            foreach (var key in required.Where(fixture.ContainsKey))
                Assert.That(JsonNode.DeepEquals(written[key], fixture[key]), $"field '{key}': wrote {written[key]?.ToJsonString()}, PEFT has {fixture[key]?.ToJsonString()}");
            Assert.That(written["task_type"]!.GetValue<string>(), Is.EqualTo("SEQ_CLS"));
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    [Test]
    public void A_lora_adapter_trained_here_uses_peft_keys()
    {
        var output = Directory.CreateTempSubdirectory("peft-save-").FullName;
        try
        {
            using (var model = HfModelFolder.LoadBertClassifier(Base))
            using (var peft = PeftModel.Apply(model, new LoraConfig { Rank = 2, Alpha = 4, UseRsLora = true, ModulesToSave = new[] { "classifier" } }))
                peft.SaveAdapter(output);
            var keys = Read(Path.Combine(output, "adapter_model.safetensors")).Keys.Order().ToList();
            Assert.That(keys, Does.Contain("base_model.model.bert.encoder.layer.1.attention.self.value.lora_B.weight"));
            Assert.That(keys, Does.Contain("base_model.model.classifier.weight"));
            Assert.That(keys, Has.All.StartWith("base_model.model."));
            var config = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "adapter_config.json")))!;
            Assert.That(config["r"]!.GetValue<int>(), Is.EqualTo(2));
            Assert.That(config["lora_alpha"]!.GetValue<double>(), Is.EqualTo(4));
            Assert.That(config["use_rslora"]!.GetValue<bool>(), Is.True);
            Assert.That(config["use_dora"]!.GetValue<bool>(), Is.False);
            Assert.That(config["task_type"]!.GetValue<string>(), Is.EqualTo("SEQ_CLS"));
            Assert.That(config.AsObject().ContainsKey("base_model_name_or_path"));
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    /// <summary>A copy of a fixture adapter folder with its tensors or its config changed.</summary>
    private static string Altered(string method, Func<string, string?>? rename = null, Func<JsonObject, JsonObject>? config = null)
    {
        var source = HfFixtures.Folder("tiny-bert", method);
        var dir = Directory.CreateTempSubdirectory("peft-bad-").FullName;
        var tensors = SafeTensors.Load(Path.Combine(source, "adapter_model.safetensors"));
        try
        {
            var kept = tensors.Select(t => (Name: rename is null ? t.Key : rename(t.Key), t.Value)).Where(t => t.Name is not null)
                .Select(t => KeyValuePair.Create(t.Name!, t.Value)).ToList();
            SafeTensors.Save(Path.Combine(dir, "adapter_model.safetensors"), kept);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(source, "adapter_config.json")))!.AsObject();
        File.WriteAllText(Path.Combine(dir, "adapter_config.json"), (config is null ? json : config(json)).ToJsonString());
        return dir;
    }

    private static void AssertLoadFails(string dir, params string[] fragments)
    {
        try
        {
            using var model = HfModelFolder.LoadBertClassifier(Base);
            var e = Assert.Throws<InvalidDataException>(() => PeftModel.Load(model, dir).Dispose())!;
            foreach (var f in fragments) Assert.That(e.Message, Does.Contain(f));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void Keys_that_match_no_module_are_rejected_loudly()
    {
        // The layout without PEFT's prefix (what this engine wrote before).
        AssertLoadFails(Altered("lora", k => k.Replace("base_model.model.", "")), "unexpected tensor 'bert.encoder.layer.0.attention.self.query.lora_A.weight'",
            "missing tensor 'base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight'", "PEFT's layout");
        // A key for a module the model does not have.
        AssertLoadFails(Altered("lora", k => k.Replace("layer.1.", "layer.7.")), "unexpected tensor 'base_model.model.bert.encoder.layer.7.attention.self.query.lora_A.weight'");
        // The adapter name left in (PEFT strips it).
        AssertLoadFails(Altered("ia3", k => k.EndsWith(".ia3_l") ? k + ".default" : k), "unexpected tensor", ".ia3_l.default");
        AssertLoadFails(Altered("prefix", k => k == "prompt_embeddings" ? null : k), "missing tensor 'prompt_embeddings'");
    }

    [Test]
    public void Config_fields_this_engine_cannot_honour_are_named()
    {
        AssertLoadFails(Altered("lora", config: c => { c["layers_to_transform"] = new JsonArray(0); return c; }), "adapter_config.json", "'layers_to_transform'");
        AssertLoadFails(Altered("lora", config: c => { c["bias"] = "all"; return c; }), "'bias'");
        AssertLoadFails(Altered("lora", config: c => { c["r"] = 8; return c; }), "[8, 16]");
        AssertLoadFails(Altered("prefix", config: c => { c["token_dim"] = 32; return c; }), "'token_dim'", "32", "16");
        AssertLoadFails(Altered("ia3", config: c => { c["fan_in_fan_out"] = true; return c; }), "'fan_in_fan_out'");
    }
}
