using Finetune.App;
using Finetune.Nn;
using Finetune.Peft;
using Finetune.Peft.Adapters;
using Finetune.Peft.BitFit;
using Finetune.Peft.Full;
using Finetune.Peft.IA3;
using Finetune.Peft.LnTuning;
using Finetune.Peft.Lora;
using Finetune.Peft.Prefix;
using Finetune.Peft.Prompts;

namespace Finetune.Tests.Peft;

/// <summary>Every registered method on a tiny BERT and a tiny ViT: counts, frozen weights, identity at init, save/load.</summary>
public class PeftMethodTests
{
    internal static readonly BertConfig Bert = new()
    {
        VocabSize = 50, HiddenSize = 16, NumLayers = 2, NumHeads = 4, IntermediateSize = 32, MaxPositions = 24,
        HiddenDropout = 0f, AttentionDropout = 0f,
    };

    internal static readonly VitConfig Vit = new() { ImageSize = 8, PatchSize = 4, HiddenSize = 16, NumLayers = 2, NumHeads = 4, IntermediateSize = 32 };

    private const int H = 16, F = 32, L = 2, Labels = 3;
    private static readonly string[] Head = { "classifier" };

    /// <summary>Name, config, parameters the method adds to the model, parameters it trains in place (besides the head).</summary>
    public static IEnumerable<TestCaseData> BertCases()
    {
        long layer = 4 * (H * H + H) + 2 * 2 * H + (H * F + F) + (F * H + H);
        long embeddings = 50 * H + 24 * H + 2 * H + 2 * H;
        long pooler = H * H + H;
        const int r = 4, m = H / 4, p = 3, hid = 8;
        long adapter = H * m + m + m * H + H;
        yield return Case("linear-probe", new LinearProbeConfig(), 0, 0);
        yield return Case("full", new FullFineTuningConfig(), 0, embeddings + L * layer + pooler);
        yield return Case("freeze-lower", new FullFineTuningConfig { FreezeEmbeddings = true, FreezeLayers = 1 }, 0, layer + pooler);
        yield return Case("lora", new LoraConfig { Rank = r, Alpha = 8 }, L * 2 * r * (H + H), 0);
        yield return Case("lora-all", new LoraConfig { Rank = r, Alpha = 8, TargetModules = LoraConfig.AllBertLinears }, L * (4 * r * (H + H) + r * (H + F) + r * (F + H)), 0);
        yield return Case("dora", new LoraConfig { Rank = r, Alpha = 8, UseDora = true }, L * (2 * r * (H + H) + 2 * H), 0);
        yield return Case("ia3", new Ia3Config(), L * (H + H + F), 0);
        yield return Case("bitfit", new BitFitConfig(), 0, L * (7 * H + F) + H + H);
        yield return Case("ln-tuning", new LnTuningConfig(), 0, 2 * H + L * 4 * H);
        yield return Case("prompt", new PromptTuningConfig { NumVirtualTokens = p }, p * H, 0);
        yield return Case("prompt-vocab", new PromptTuningConfig { NumVirtualTokens = p, Init = PromptInit.Vocabulary, InitTokenIds = new[] { 7, 9 } }, p * H, 0);
        yield return Case("prefix", new PrefixTuningConfig { NumVirtualTokens = p }, p * L * 2 * H, 0);
        yield return Case("prefix-mlp", new PrefixTuningConfig { NumVirtualTokens = p, Projection = true, ProjectionHidden = hid }, p * H + (H * hid + hid) + (hid * L * 2 * H + L * 2 * H), 0);
        yield return Case("houlsby", new BottleneckConfig { ReductionFactor = 4 }, L * 2 * adapter, 0);
        yield return Case("pfeiffer", new BottleneckConfig { Variant = BottleneckVariant.Pfeiffer, ReductionFactor = 4 }, L * adapter, 0);
        yield return Case("parallel", new BottleneckConfig { Variant = BottleneckVariant.Parallel, ReductionFactor = 4, Scaling = 4 }, L * adapter, 0);
    }

    private static TestCaseData Case(string name, PeftConfig config, long added, long inPlace) =>
        new TestCaseData(config with { ModulesToSave = Head, Seed = 5 }, added, inPlace).SetArgDisplayNames(name);

    private static (Tensor Ids, Tensor Mask, Tensor Labels) Batch() => (
        Tensor.FromArray(new[] { 2, 7, 9, 11, 3, 0, 2, 5, 6, 3, 0, 0, 2, 40, 41, 42, 43, 3 }, 3, 6),
        Tensor.FromArray(new[] { 1f, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1 }, 3, 6),
        Tensor.FromArray(new[] { 0, 1, 2 }, 3));

    private static Tensor Pixels(int seed, int batch = 3) => Tensor.Normal(new[] { batch, 1, 8, 8 }, 0f, 1f, new Generator((ulong)seed));

    private static BertForSequenceClassification NewBert() => new(Bert, Labels, PoolingMode.Mean, new Generator(1));

    private static float[] Logits(BertForSequenceClassification model)
    {
        var (ids, mask, _) = Batch();
        using var scope = TensorScope.Begin();
        return model.Forward(ids, mask).ToArray();
    }

    [TestCaseSource(nameof(BertCases))]
    public void Trainable_parameter_count_equals_the_methods_formula(PeftConfig config, long added, long inPlace)
    {
        using var model = NewBert();
        long baseTotal = model.ParameterCounts().Total;
        using var peft = PeftModel.Apply(model, config);
        var report = peft.TrainableReport();
        long head = H * Labels + Labels;
        Assert.That(report.Trainable, Is.EqualTo(added + inPlace + head));
        Assert.That(report.Total, Is.EqualTo(baseTotal + added));
        Assert.That(PeftRegistry.ReadConfig(config.ToJson()), Is.EqualTo(config).Using<PeftConfig>((a, b) => a.ToJson() == b.ToJson()), "adapter_config.json round trip");
    }

    [TestCaseSource(nameof(BertCases))]
    public void Training_moves_only_the_adapter_and_leaves_frozen_weights_bit_identical(PeftConfig config, long added, long inPlace)
    {
        using var model = NewBert();
        using var peft = PeftModel.Apply(model, config);
        var frozen = model.NamedParameters().Where(p => !p.Value.Trainable).ToDictionary(p => p.Key, p => p.Value.Value.ToArray());
        var trainable = model.NamedParameters().Where(p => p.Value.Trainable).ToDictionary(p => p.Key, p => p.Value.Value.ToArray());
        var (ids, mask, labels) = Batch();
        for (int step = 0; step < 2; step++)
        {
            using (TensorScope.Begin()) model.Forward(ids, mask).CrossEntropy(labels).Backward();
            foreach (var (name, p) in model.NamedParameters())
            {
                if (!p.Trainable)
                {
                    Assert.That(p.Grad, Is.Null, name);
                    continue;
                }
                // Mean pooling leaves BERT's pooler outside the graph, so full fine-tuning and BitFit give it no gradient.
                if (name.StartsWith("bert.pooler.", StringComparison.Ordinal)) continue;
                Assert.That(p.Grad, Is.Not.Null, name + " gets no gradient");
                p.AddInPlace(p.Grad!, -0.1f);
                p.ZeroGrad();
            }
        }
        foreach (var (name, before) in frozen)
            Assert.That(model.GetParameter(name).Value.ToArray(), Is.EqualTo(before), name);
        int changed = trainable.Count(kv => !model.GetParameter(kv.Key).Value.ToArray().SequenceEqual(kv.Value));
        Assert.That(changed, Is.GreaterThan(trainable.Count / 2), "most trainable tensors should move");
    }

    [TestCaseSource(nameof(BertCases))]
    public void Save_then_load_into_a_fresh_base_gives_identical_outputs(PeftConfig config, long added, long inPlace)
    {
        var dir = Directory.CreateTempSubdirectory("finetune-peft-").FullName;
        try
        {
            float[] expected;
            using (var a = NewBert())
            {
                a.Eval();
                using var peft = PeftModel.Apply(a, config);
                Perturb(a);
                peft.SaveAdapter(dir);
                expected = Logits(a);
            }
            Assert.That(File.Exists(Path.Combine(dir, "adapter_config.json")) && File.Exists(Path.Combine(dir, "adapter_model.safetensors")));
            using var b = NewBert();
            b.Eval();
            using var loaded = PeftModel.Load(b, dir);
            Assert.That(loaded.Config.ToJson(), Is.EqualTo(config.ToJson()));
            Assert.That(Logits(b), Is.EqualTo(expected));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Nudges every trainable tensor so a zero-initialised adapter matters.</summary>
    private static void Perturb(Module model)
    {
        var g = new Generator(77);
        foreach (var p in model.TrainableParameters())
            using (var noise = Tensor.Normal(p.Shape.ToArray(), 0f, 0.05f, g)) p.AddInPlace(noise);
    }

    public static IEnumerable<TestCaseData> IdentityAtInit() => BertCases().Where(c => c.Arguments[0] is not (PromptTuningConfig or PrefixTuningConfig));

    [TestCaseSource(nameof(IdentityAtInit))]
    public void A_fresh_adapter_computes_the_base_model(PeftConfig config, long added, long inPlace)
    {
        using var model = NewBert();
        model.Eval();
        var before = Logits(model);
        using var peft = PeftModel.Apply(model, config);
        var after = Logits(model);
        Assert.That(after.Zip(before, (x, y) => Math.Abs(x - y)).Max(), Is.LessThan(1e-5));
    }

    [Test]
    public void Dora_merged_equals_unmerged_and_unmerge_restores_the_base()
    {
        using var model = NewBert();
        model.Eval();
        using var peft = PeftModel.Apply(model, new LoraConfig { Rank = 4, Alpha = 8, UseDora = true, TargetModules = LoraConfig.AllBertLinears });
        Perturb(model);
        var baseWeight = peft.Layers<LoraLinear>().First().BaseLayer.Weight.Value.ToArray();
        var unmerged = Logits(model);
        peft.Merge();
        double err = Logits(model).Zip(unmerged, (a, b) => Math.Abs(a - b)).Max();
        TestContext.Out.WriteLine($"DoRA merged vs unmerged max abs error: {err:E2}");
        Assert.That(err, Is.LessThan(1e-5));
        peft.Unmerge();
        Assert.That(peft.Layers<LoraLinear>().First().BaseLayer.Weight.Value.ToArray().Zip(baseWeight, (a, b) => Math.Abs(a - b)).Max(), Is.LessThan(1e-5));
    }

    [Test]
    public void Ia3_merged_equals_unmerged_and_unmerge_restores_the_base_exactly()
    {
        using var model = NewBert();
        model.Eval();
        using var peft = PeftModel.Apply(model, new Ia3Config());
        Perturb(model);
        var layers = peft.Layers<Ia3Linear>().ToList();
        Assert.That(layers.Select(l => l.IsFeedforward).Distinct().Count(), Is.EqualTo(2), "both forms: scaled output and scaled input");
        var before = layers.Select(l => (l.BaseLayer.Weight.Value.ToArray(), l.BaseLayer.Bias?.Value.ToArray())).ToList();
        var unmerged = Logits(model);
        peft.Merge();
        double err = Logits(model).Zip(unmerged, (a, b) => Math.Abs(a - b)).Max();
        TestContext.Out.WriteLine($"IA3 merged vs unmerged max abs error: {err:E2}");
        Assert.That(err, Is.LessThan(1e-5));
        Assert.That(layers.All(l => l.Merged));
        model.Train();
        Assert.Throws<InvalidOperationException>(() => Logits(model), "training a merged IA3 would give its vector no gradient");
        model.Eval();
        peft.Unmerge();
        Assert.That(layers.Select(l => (l.BaseLayer.Weight.Value.ToArray(), l.BaseLayer.Bias?.Value.ToArray())), Is.EqualTo(before));
        Assert.That(Logits(model), Is.EqualTo(unmerged));
    }

    [Test]
    public void Named_adapters_switch_and_disable_back_to_the_base_model()
    {
        using var model = NewBert();
        model.Eval();
        var baseLogits = Logits(model);
        using var peft = PeftModel.Apply(model, new LoraConfig { Rank = 4, Alpha = 8, ModulesToSave = Head }, "sentiment");
        Perturb(model);
        var loraLogits = Logits(model);
        peft.AddAdapter("topic", new BottleneckConfig { ReductionFactor = 4, ModulesToSave = Head });
        Assert.That(model.NamedParameters().Any(p => p.Key.Contains("lora_", StringComparison.Ordinal)), Is.False, "the inactive LoRA is out of the model");
        Perturb(model);
        var adapterLogits = Logits(model);
        Assert.That(adapterLogits, Is.Not.EqualTo(loraLogits));
        peft.SetAdapter("sentiment");
        Assert.That(Logits(model), Is.EqualTo(loraLogits));
        peft.SetAdapter("topic");
        Assert.That(Logits(model), Is.EqualTo(adapterLogits));
        peft.DisableAdapters();
        Assert.That(Logits(model), Is.EqualTo(baseLogits));
        Assert.That(peft.ActiveAdapter, Is.Null);
        Assert.That(peft.AdapterStateDict("sentiment").Keys, Has.Some.Contains("lora_B"));
        Assert.That(peft.ActiveAdapter, Is.Null, "reading an inactive adapter's tensors leaves the model as it was");
        peft.SetAdapter("sentiment");
        peft.Merge();
        Assert.Throws<InvalidOperationException>(() => peft.SetAdapter("topic"));
        peft.Unmerge();
        peft.DeleteAdapter("topic");
        Assert.That(peft.Adapters, Is.EqualTo(new[] { "sentiment" }));
        var names = model.NamedParameters().Select(p => p.Key).ToList();
        var e = Assert.Throws<InvalidOperationException>(() => peft.AddAdapter("biases", new BitFitConfig()))!;
        Assert.That(e.Message, Does.Contain("in place"));
        Assert.Throws<ArgumentException>(() => peft.AddAdapter("bad", new LoraConfig { ModulesToSave = new[] { "no_such_head" } }));
        Assert.That(model.NamedParameters().Select(p => p.Key), Is.EqualTo(names), "a failed injection leaves the model as it was");
        Assert.That(model.NamedParameters().Where(p => p.Value.Trainable).Select(p => p.Key), Has.All.Contains("lora_").Or.StartsWith("classifier"));
        Assert.That(peft.ActiveAdapter, Is.EqualTo("sentiment"));
    }

    [Test]
    public void Prompt_and_prefix_tokens_do_not_see_padding()
    {
        foreach (PeftConfig config in new PeftConfig[] { new PromptTuningConfig { NumVirtualTokens = 3 }, new PrefixTuningConfig { NumVirtualTokens = 3 } })
        {
            using var model = NewBert();
            model.Eval();
            using var peft = PeftModel.Apply(model, config with { ModulesToSave = Head });
            using var scope = TensorScope.Begin();
            var padded = model.Forward(Tensor.FromArray(new[] { 2, 5, 6, 3, 0, 0 }, 1, 6), Tensor.FromArray(new[] { 1f, 1, 1, 1, 0, 0 }, 1, 6)).ToArray();
            var alone = model.Forward(Tensor.FromArray(new[] { 2, 5, 6, 3 }, 1, 4), Tensor.Ones(1, 4)).ToArray();
            for (int i = 0; i < Labels; i++) Assert.That(padded[i], Is.EqualTo(alone[i]).Within(1e-5), config.PeftType);
        }
    }

    [Test]
    public void A_corrupted_weights_file_is_an_error_naming_the_file()
    {
        var dir = SaveLora(new LoraConfig { Rank = 4, ModulesToSave = Head });
        try
        {
            var weights = Path.Combine(dir, "adapter_model.safetensors");
            var bytes = File.ReadAllBytes(weights);
            File.WriteAllBytes(weights, bytes[..(bytes.Length / 2)]);
            using var model = NewBert();
            var e = Assert.Throws<InvalidDataException>(() => PeftModel.Load(model, dir))!;
            Assert.That(e.Message, Does.Contain("adapter_model.safetensors"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void A_config_field_of_the_wrong_type_or_value_is_named()
    {
        var dir = SaveLora(new LoraConfig { Rank = 4, ModulesToSave = Head });
        try
        {
            var configPath = Path.Combine(dir, "adapter_config.json");
            var json = File.ReadAllText(configPath);
            File.WriteAllText(configPath, json.Replace("\"r\": 4", "\"r\": \"four\""));
            using (var model = NewBert())
                Assert.That(Assert.Throws<InvalidDataException>(() => PeftModel.Load(model, dir))!.Message, Does.Contain("'r'").And.Contain("adapter_config.json"));
            File.WriteAllText(configPath, json.Replace("\"r\": 4", "\"r\": 0"));
            using (var model = NewBert())
                Assert.That(Assert.Throws<InvalidDataException>(() => PeftModel.Load(model, dir))!.Message, Does.Contain("field 'r' is 0, expected an integer in [1, 65536]"));
            File.WriteAllText(configPath, json.Replace("\"LORA\"", "\"NOPE\""));
            using (var model = NewBert())
                Assert.That(Assert.Throws<InvalidDataException>(() => PeftModel.Load(model, dir))!.Message, Does.Contain("'peft_type'").And.Contain("NOPE"));
            File.WriteAllText(configPath, new BottleneckConfig { ReductionFactor = 4 }.ToJson().Replace("\"reduction_factor\": 4", "\"reduction_factr\": 4"));
            using (var model = NewBert())
                Assert.That(Assert.Throws<InvalidDataException>(() => PeftModel.Load(model, dir))!.Message, Does.Contain("reduction_factr"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void An_adapter_for_another_base_model_names_the_mismatched_tensor_and_leaves_the_base_file_alone()
    {
        var dir = SaveLora(new LoraConfig { Rank = 4, ModulesToSave = Head });
        try
        {
            var wider = Bert with { HiddenSize = 32, IntermediateSize = 64 };
            using var model = new BertForSequenceClassification(wider, Labels, PoolingMode.Mean, new Generator(1));
            var e = Assert.Throws<InvalidDataException>(() => PeftModel.Load(model, dir))!;
            Assert.That(e.Message, Does.Contain("bert.encoder.layer.0.attention.self.query.lora_A.weight").And.Contain("[4, 16]").And.Contain("[4, 32]"));
            using var other = NewBert();
            using var peft = PeftModel.Apply(other, new LoraConfig { Rank = 8, ModulesToSave = Head });
            var e2 = Assert.Throws<InvalidDataException>(() => peft.LoadAdapter(dir))!;
            Assert.That(e2.Message, Does.Contain("field 'r'"));
            Assert.That(Directory.GetFiles(dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "adapter_config.json", "adapter_model.safetensors" }), "no temporary files are left behind");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string SaveLora(LoraConfig config)
    {
        var dir = Directory.CreateTempSubdirectory("finetune-peft-").FullName;
        using var model = NewBert();
        using var peft = PeftModel.Apply(model, config);
        peft.SaveAdapter(dir);
        return dir;
    }

    public static IEnumerable<TestCaseData> VitCases()
    {
        const int r = 4, p = 2;
        yield return new TestCaseData(PeftRegistry.Preset("lora").Create(ModelFamily.Vit, L) with { ModulesToSave = Head } is LoraConfig c ? c with { Rank = r } : null,
            (long)L * (3 * r * (H + H) + r * (H + F) + r * (F + H))).SetArgDisplayNames("lora-qkv-ffn");
        yield return new TestCaseData(new PromptTuningConfig { NumVirtualTokens = p, ModulesToSave = Head }, (long)p * H).SetArgDisplayNames("vpt-shallow");
        yield return new TestCaseData(new PromptTuningConfig { NumVirtualTokens = p, Deep = true, ModulesToSave = Head }, (long)L * p * H).SetArgDisplayNames("vpt-deep");
        yield return new TestCaseData(new PrefixTuningConfig { NumVirtualTokens = p, ModulesToSave = Head }, (long)p * L * 2 * H).SetArgDisplayNames("prefix");
        yield return new TestCaseData(new Ia3Config { ModulesToSave = Head }, (long)L * (H + H + F)).SetArgDisplayNames("ia3");
        yield return new TestCaseData(new BottleneckConfig { ReductionFactor = 4, ModulesToSave = Head }, (long)L * 2 * (H * 4 + 4 + 4 * H + H)).SetArgDisplayNames("houlsby");
    }

    [TestCaseSource(nameof(VitCases))]
    public void Vit_methods_count_their_formula_train_and_keep_the_base_frozen(PeftConfig config, long added)
    {
        using var model = new VitForImageClassification(Vit, Labels, new Generator(3));
        long baseTotal = model.ParameterCounts().Total;
        using var peft = PeftModel.Apply(model, config);
        Assert.That(peft.TrainableReport().Trainable, Is.EqualTo(added + H * Labels + Labels));
        Assert.That(peft.TrainableReport().Total, Is.EqualTo(baseTotal + added));
        var frozen = model.NamedParameters().Where(p => !p.Value.Trainable).ToDictionary(p => p.Key, p => p.Value.Value.ToArray());
        var labels = Tensor.FromArray(new[] { 0, 1, 2 }, 3);
        using (TensorScope.Begin())
        {
            var logits = model.Forward(Pixels(1));
            Assert.That(logits.Shape, Is.EqualTo(new[] { 3, Labels }));
            logits.CrossEntropy(labels).Backward();
        }
        foreach (var p in model.TrainableParameters())
        {
            Assert.That(p.Grad, Is.Not.Null);
            p.AddInPlace(p.Grad!, -0.1f);
        }
        foreach (var (name, before) in frozen) Assert.That(model.GetParameter(name).Value.ToArray(), Is.EqualTo(before), name);
    }

    [Test]
    public void A_saved_run_rebuilds_the_same_classifier()
    {
        var dir = Directory.CreateTempSubdirectory("finetune-run-").FullName;
        try
        {
            using var pretrained = new VitModel(Vit, new Generator(8));
            var weights = pretrained.StateDict();
            VitModel Copy()
            {
                var m = new VitModel(Vit, new Generator(0));
                m.LoadStateDict(weights);
                return m;
            }
            var options = new FineTuneOptions { Method = "prefix", VirtualTokens = 2, Labels = 4, Seed = 3 };
            float[] expected;
            using (var a = FineTuning.PrepareVit(Copy(), options))
            {
                a.Model.Eval();
                Perturb(a.Model);
                FineTuning.Save(a, dir);
                using var scope = TensorScope.Begin();
                expected = ((VitForImageClassification)a.Model).Forward(Pixels(4)).ToArray();
            }
            var read = FineTuning.ReadOptions(dir);
            Assert.That(read.Method, Is.EqualTo("prefix"));
            Assert.That(read.VirtualTokens, Is.EqualTo(2));
            using var b = FineTuning.PrepareVit(Copy(), read);
            b.Model.Eval();
            b.Peft.LoadAdapter(Path.Combine(dir, FineTuning.AdapterDirectory));
            using (TensorScope.Begin()) Assert.That(((VitForImageClassification)b.Model).Forward(Pixels(4)).ToArray(), Is.EqualTo(expected));
            Assert.That(Assert.Throws<ArgumentException>(() => new FineTuneOptions { Method = "vpt-deep" }.ToConfig(ModelFamily.Bert, 2))!.Message, Does.Contain("vpt-deep"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestCase("lora")]
    [TestCase("vpt-deep")]
    [TestCase("prefix-mlp")]
    [TestCase("ia3")]
    [TestCase("parallel")]
    public void Engine_training_with_weight_decay_leaves_frozen_weights_bit_identical(string method)
    {
        using var model = new VitForImageClassification(Vit, Labels, new Generator(3));
        using var peft = PeftModel.Apply(model, PeftRegistry.Preset(method).Create(ModelFamily.Vit, L));
        var frozen = model.NamedParameters().Where(p => !p.Value.Trainable).ToDictionary(p => p.Key, p => p.Value.Value.ToArray());
        var trainable = model.NamedParameters().Where(p => p.Value.Trainable).ToDictionary(p => p.Key, p => p.Value.Value.ToArray());
        var images = Enumerable.Range(0, 12).ToList();
        var data = new Finetune.Nn.Training.ClassificationData<int>(images, null, items => new Finetune.Nn.Training.Batch(
            new Dictionary<string, Tensor> { ["pixel_values"] = Pixels(items[0], items.Count) },
            Tensor.FromArray(items.Select(i => i % Labels).ToArray(), items.Count)));
        var report = Engine.Train(new Finetune.Nn.Data.VitImageClassifier(model), data,
            new Finetune.Nn.Training.TrainOptions { MaxSteps = 3, BatchSize = 4, LearningRate = 1e-2f, WeightDecay = 0.1f });
        Assert.That(report.TrainableParameters, Is.EqualTo(peft.TrainableReport().Trainable));
        foreach (var (name, before) in frozen) Assert.That(model.GetParameter(name).Value.ToArray(), Is.EqualTo(before), name);
        Assert.That(trainable.All(kv => !model.GetParameter(kv.Key).Value.ToArray().SequenceEqual(kv.Value)), "every trainable tensor moves");
    }

    [Test]
    public void Prompt_init_text_starts_the_virtual_tokens_at_its_word_embeddings()
    {
        var tokenizer = Finetune.Nn.IO.MiniLm.LoadTokenizer();
        var words = tokenizer.Encode("positive or negative").Where(id => id != tokenizer.ClsId && id != tokenizer.SepId).ToArray();
        using var encoder = new BertModel(Bert with { VocabSize = 30522 }, new Generator(2));
        var table = encoder.Embeddings.WordEmbeddings.Weight.Value.ToArray();
        using var prepared = FineTuning.Prepare(encoder, new FineTuneOptions { Method = "prompt", VirtualTokens = 4, PromptInitText = "positive or negative" }, tokenizer);
        var prompt = prepared.Model.NamedParameters().Single(p => p.Key == "bert.embeddings.prompt.weight").Value.Value.ToArray();
        Assert.That(words, Has.Length.EqualTo(3));
        for (int i = 0; i < 4; i++)
            Assert.That(prompt.AsSpan(i * H, H).ToArray(), Is.EqualTo(table.AsSpan(words[i % 3] * H, H).ToArray()), $"virtual token {i}");
    }
}
