using Finetune.App;
using Finetune.Nn;
using Finetune.Nn.IO;
using Finetune.Peft;

namespace Finetune.Tests.Peft;

/// <summary>finetune export on a run that started from a Hugging Face folder (--model): PEFT adapter, or merged model.</summary>
public class HfExportTests
{
    private static readonly int[] Ids = { 2, 7, 9, 11, 3, 2, 12, 3, 0, 0 };
    private static readonly float[] Mask = { 1, 1, 1, 1, 1, 1, 1, 1, 0, 0 };

    private static float[] Logits(BertForSequenceClassification model)
    {
        using var scope = TensorScope.Begin();
        using var noGrad = GradMode.NoGrad();
        model.Eval();
        return model.Forward(Tensor.FromArray(Ids, 2, 5), Tensor.FromArray(Mask, 2, 5)).ToArray();
    }

    /// <summary>A saved run of <paramref name="method"/> on the tiny BERT folder, with every trainable weight moved off its init.</summary>
    private static (string Run, float[] Logits) SavedRun(string method)
    {
        var run = Directory.CreateTempSubdirectory("run-").FullName;
        var options = new FineTuneOptions { Method = method, Labels = 3, Seed = 7, BaseModel = HfFixtures.Folder("tiny-bert") };
        using var prepared = FineTuning.Text(options);
        using (GradMode.NoGrad())
            foreach (var p in prepared.Model.TrainableParameters())
            {
                using var noise = Tensor.Normal(p.Value.Shape.ToArray(), 0f, 0.2f, new Generator(11));
                p.AddInPlace(noise);
            }
        FineTuning.Save(prepared, run);
        return (run, Logits((BertForSequenceClassification)prepared.Model));
    }

    [TestCase("lora")]
    [TestCase("dora")]
    [TestCase("bitfit")]
    [TestCase("ia3")]
    public void A_merged_export_is_a_plain_hf_folder_with_the_runs_logits(string method)
    {
        var (run, expected) = SavedRun(method);
        var output = Directory.CreateTempSubdirectory("export-").FullName;
        try
        {
            HfExport.Run(run, output, merge: true);
            Assert.That(File.Exists(Path.Combine(output, "tokenizer.json")) && File.Exists(Path.Combine(output, "vocab.txt")));
            using var merged = HfModelFolder.LoadBertClassifier(output);
            Assert.That(merged.NamedParameters().Select(p => p.Key), Has.None.Contains("lora_").And.None.Contains("base_layer")
                .And.None.Contains("ia3_l"));
            double err = HfFixtures.MaxAbsDiff(Logits(merged), expected);
            TestContext.Out.WriteLine($"{method} merged: max |logit - run| = {err:E2}");
            Assert.That(err, Is.LessThan(1e-5));
        }
        finally
        {
            Directory.Delete(run, recursive: true);
            Directory.Delete(output, recursive: true);
        }
    }

    [Test]
    public void An_unmerged_export_is_a_peft_adapter_that_loads_on_the_base_it_names()
    {
        var (run, expected) = SavedRun("lora");
        var output = Directory.CreateTempSubdirectory("export-").FullName;
        try
        {
            HfExport.Run(run, output, merge: false);
            var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(output, "adapter_config.json")))!;
            var baseModel = config["base_model_name_or_path"]!.GetValue<string>();
            Assert.That(baseModel, Is.EqualTo(HfFixtures.Folder("tiny-bert")));
            using var model = new BertForSequenceClassification(HfModelFolder.LoadBert(baseModel), 3, PoolingMode.Mean, new Generator(99));
            using var peft = PeftModel.Load(model, output);
            Assert.That(Logits(model), Is.EqualTo(expected));
            var prefixRun = SavedRun("prefix").Run;
            try
            {
                Assert.That(() => HfExport.Run(prefixRun, output, merge: true),
                    Throws.ArgumentException.With.Message.Contains("PREFIX_TUNING").And.Message.Contains("without --merge"));
            }
            finally
            {
                Directory.Delete(prefixRun, recursive: true);
            }
        }
        finally
        {
            Directory.Delete(run, recursive: true);
            Directory.Delete(output, recursive: true);
        }
    }
}
