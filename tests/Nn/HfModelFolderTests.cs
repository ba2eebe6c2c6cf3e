using Finetune.Nn;
using Finetune.Nn.IO;

namespace Finetune.Tests.Nn;

/// <summary>Hugging Face model folders written by bench/peers/make_hf_fixtures.py load and compute what PyTorch computes.</summary>
public class HfModelFolderTests
{
    private static float[] BertLogits(BertForSequenceClassification model, System.Text.Json.JsonElement e)
    {
        using var scope = TensorScope.Begin();
        using var noGrad = GradMode.NoGrad();
        model.Eval();
        return model.Forward(HfFixtures.Ints(e.GetProperty("input_ids")), HfFixtures.FloatTensor(e.GetProperty("attention_mask")),
            HfFixtures.Ints(e.GetProperty("token_type_ids"))).ToArray();
    }

    private static void AssertBertMatches(string folder, double tolerance)
    {
        var e = HfFixtures.Expected(folder);
        using var model = HfModelFolder.LoadBertClassifier(folder);
        var expected = HfFixtures.Floats(e.GetProperty("logits")).Values;
        double err = HfFixtures.MaxAbsDiff(BertLogits(model, e), expected);
        TestContext.Out.WriteLine($"{Path.GetFileName(folder)}: max |logit - PyTorch| = {err:E2}");
        Assert.That(err, Is.LessThan(tolerance));
    }

    [Test]
    public void A_bert_classifier_folder_gives_pytorchs_logits() => AssertBertMatches(HfFixtures.Folder("tiny-bert"), 1e-5);

    [Test]
    public void A_random_bert_base_shaped_model_in_hf_naming_gives_pytorchs_logits()
    {
        var dir = Directory.CreateTempSubdirectory("bert-base-").FullName;
        try
        {
            HfFixtures.RunTorchScript("make_hf_fixtures.py", "--bert-base", dir);
            using (var model = HfModelFolder.LoadBertClassifier(dir))
                Assert.That(model.Bert.ParameterCounts().Total + model.Classifier.ParameterCounts().Total, Is.EqualTo(109_484_547L),
                    "BERT-base's 109,482,240 parameters and a 3-label head");
            AssertBertMatches(dir, 1e-4);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void A_distilbert_folder_maps_onto_bert_and_gives_pytorchs_hidden_states()
    {
        var folder = HfFixtures.Folder("tiny-distilbert");
        var e = HfFixtures.Expected(folder);
        Assert.That(HfModelFolder.ModelType(folder), Is.EqualTo("distilbert"));
        using var model = HfModelFolder.LoadBert(folder);
        model.Eval();
        Assert.That(model.Pooler, Is.Null);
        using var scope = TensorScope.Begin();
        using var noGrad = GradMode.NoGrad();
        var mask = HfFixtures.FloatTensor(e.GetProperty("attention_mask"));
        var hidden = model.Forward(HfFixtures.Ints(e.GetProperty("input_ids")), mask).ToArray();
        var (expected, shape) = HfFixtures.Floats(e.GetProperty("last_hidden_state"));
        var m = mask.ToArray();
        int h = shape[2];
        // Padded positions compute different garbage in each implementation; compare real tokens.
        double err = Enumerable.Range(0, m.Length).Where(i => m[i] == 1)
            .SelectMany(i => Enumerable.Range(0, h).Select(j => (double)Math.Abs(hidden[i * h + j] - expected[i * h + j]))).Max();
        TestContext.Out.WriteLine($"distilbert: max |hidden - PyTorch| = {err:E2}");
        Assert.That(err, Is.LessThan(1e-5));
    }

    [Test]
    public void A_google_vit_folder_gives_pytorchs_logits_and_saves_back_in_the_same_layout()
    {
        var folder = HfFixtures.Folder("tiny-vit");
        var e = HfFixtures.Expected(folder);
        var expected = HfFixtures.Floats(e.GetProperty("logits")).Values;
        float[] Logits(VitForImageClassification m)
        {
            using var scope = TensorScope.Begin();
            using var noGrad = GradMode.NoGrad();
            m.Eval();
            return m.Forward(HfFixtures.FloatTensor(e.GetProperty("pixel_values"))).ToArray();
        }
        var dir = Directory.CreateTempSubdirectory("vit-export-").FullName;
        try
        {
            using (var model = HfModelFolder.LoadVitClassifier(folder))
            {
                Assert.That(HfFixtures.MaxAbsDiff(Logits(model), expected), Is.LessThan(1e-5));
                HfModelFolder.SaveVitClassifier(model, dir);
            }
            var original = SafeTensors.Load(Path.Combine(folder, "model.safetensors"));
            var saved = SafeTensors.Load(Path.Combine(dir, "model.safetensors"));
            try
            {
                Assert.That(saved.Keys.Order(), Is.EqualTo(original.Keys.Where(k => !k.StartsWith("vit.pooler.", StringComparison.Ordinal)).Order()));
                foreach (var (k, t) in saved) Assert.That(t.ToArray(), Is.EqualTo(original[k].ToArray()), k);
            }
            finally
            {
                foreach (var t in original.Values.Concat(saved.Values)) t.Dispose();
            }
            using var reloaded = HfModelFolder.LoadVitClassifier(dir);
            Assert.That(HfFixtures.MaxAbsDiff(Logits(reloaded), expected), Is.LessThan(1e-5));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void MiniLm_imported_from_onnx_exports_as_a_folder_that_reloads_to_the_same_logits()
    {
        var dir = Directory.CreateTempSubdirectory("minilm-export-").FullName;
        try
        {
            var ids = Tensor.FromArray(new[] { 101, 7592, 2088, 102, 0, 101, 1996, 4248, 2829, 102 }, 2, 5);
            var mask = Tensor.FromArray(new[] { 1f, 1, 1, 1, 0, 1, 1, 1, 1, 1 }, 2, 5);
            float[] Logits(BertForSequenceClassification m)
            {
                using var scope = TensorScope.Begin();
                using var noGrad = GradMode.NoGrad();
                m.Eval();
                return m.Forward(ids, mask).ToArray();
            }
            float[] before;
            using (var model = new BertForSequenceClassification(MiniLm.LoadModel(), 3, PoolingMode.Mean, new Generator(5)))
            {
                before = Logits(model);
                HfModelFolder.SaveBertClassifier(model, dir, new[] { "neg", "neutral", "pos" });
            }
            using var reloaded = HfModelFolder.LoadBertClassifier(dir);
            Assert.That(reloaded.PoolingMode, Is.EqualTo(PoolingMode.Mean));
            Assert.That(Logits(reloaded), Is.EqualTo(before));
            var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!;
            Assert.That(config["id2label"]!["2"]!.GetValue<string>(), Is.EqualTo("pos"));
            Assert.That(config["architectures"]![0]!.GetValue<string>(), Is.EqualTo("BertForSequenceClassification"));
            ids.Dispose();
            mask.Dispose();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void Unknown_architectures_and_missing_files_are_named()
    {
        var dir = Directory.CreateTempSubdirectory("hf-bad-").FullName;
        try
        {
            Assert.That(() => HfModelFolder.LoadBert(Path.Combine(dir, "nope")), Throws.InstanceOf<DirectoryNotFoundException>().With.Message.Contains("nope"));
            Assert.That(() => HfModelFolder.LoadBert(dir), Throws.InstanceOf<FileNotFoundException>().With.Message.Contains("config.json is missing"));
            File.WriteAllText(Path.Combine(dir, "config.json"), "{\"model_type\": \"roberta\"}");
            Assert.That(() => HfModelFolder.LoadBert(dir), Throws.InstanceOf<FileNotFoundException>().With.Message.Contains("model.safetensors is missing"));
            File.WriteAllBytes(Path.Combine(dir, "pytorch_model.bin"), new byte[] { 1 });
            Assert.That(() => HfModelFolder.LoadBert(dir), Throws.InstanceOf<FileNotFoundException>().With.Message.Contains("pytorch_model.bin"));
            File.Copy(HfFixtures.Folder("tiny-bert", "model.safetensors"), Path.Combine(dir, "model.safetensors"));
            Assert.That(() => HfModelFolder.LoadBert(dir), Throws.InstanceOf<InvalidDataException>()
                .With.Message.Contains("'model_type'").And.Message.Contains("roberta").And.Message.Contains("bert, distilbert, vit"));
            File.WriteAllText(Path.Combine(dir, "config.json"), "{\"model_type\": \"vit\"}");
            Assert.That(() => HfModelFolder.LoadBert(dir), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("a text model"));
            File.WriteAllText(Path.Combine(dir, "config.json"), "{\"model_type\": \"distilbert\", \"sinusoidal_pos_embds\": true}");
            Assert.That(() => HfModelFolder.LoadBert(dir), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("sinusoidal_pos_embds"));
            File.WriteAllText(Path.Combine(dir, "config.json"), "{\"model_type\": \"distilbert\", \"dim\": \"wide\"}");
            Assert.That(() => HfModelFolder.LoadBert(dir), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("'dim'"));
            File.WriteAllText(Path.Combine(dir, "config.json"), File.ReadAllText(HfFixtures.Folder("tiny-bert", "config.json")).Replace("\"hidden_size\": 16", "\"hidden_size\": 32"));
            Assert.That(() => HfModelFolder.LoadBert(dir), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("model.safetensors"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
