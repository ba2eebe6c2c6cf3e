using System.Text.Json.Nodes;
using Finetune.Nn;
using Finetune.Nn.Data;
using Finetune.Nn.IO;
using Finetune.Nn.Text;
using Finetune.Nn.Training;
using Finetune.App;

namespace Finetune.Tests.Data;

/// <summary>train --data and predict on a tiny BERT: a CSV with three string labels, saved, reloaded, predicted.</summary>
public class UserDataEndToEndTests
{
    private static readonly BertConfig Tiny = new()
    {
        HiddenSize = 32, NumLayers = 2, NumHeads = 2, IntermediateSize = 64, MaxPositions = 64, HiddenDropout = 0f, AttentionDropout = 0f,
    };

    private static readonly string[] Filler = { "the", "a", "very", "today", "again", "my", "is", "and", "so", "it" };
    private static readonly Dictionary<string, string[]> Words = new()
    {
        ["fruit"] = new[] { "apple", "banana", "cherry", "grape" },
        ["animal"] = new[] { "horse", "tiger", "rabbit", "eagle" },
        ["vehicle"] = new[] { "car", "truck", "bicycle", "train" },
    };

    private static string Sentence(string label, int i) =>
        $"{Filler[i % 10]} {Words[label][i % 4]} {Filler[(i * 7 + 3) % 10]} {Words[label][(i / 4) % 4]} {Filler[(i * 3 + 1) % 10]}";

    private static PreparedClassifier Build(FineTuneOptions options) => FineTuning.Prepare(new BertModel(Tiny, new Generator(11)), options);

    [Test]
    public void A_csv_with_three_string_labels_trains_saves_reloads_and_predicts()
    {
        var dir = Directory.CreateTempSubdirectory("finetune-e2e-").FullName;
        try
        {
            var rows = Enumerable.Range(0, 120).Select(i => (Text: Sentence(Words.Keys.ElementAt(i % 3), i), Label: Words.Keys.ElementAt(i % 3)));
            var csv = Path.Combine(dir, "train.csv");
            File.WriteAllText(csv, "text,label\n" + string.Join("\n", rows.Select(r => $"\"{r.Text}\",{r.Label}")) + "\n");
            var splits = UserDataset.LoadText(new DatasetFiles { Train = csv, ValidationSplit = 0.1, TestSplit = 0.2, Seed = 1 }, new TextColumns());
            Assert.That(splits.Labels.Names, Is.EqualTo(new[] { "animal", "fruit", "vehicle" }));
            Assert.That((splits.Train.Count, splits.Validation.Count, splits.Test.Count), Is.EqualTo((84, 12, 24)));

            var tokenizer = MiniLm.LoadTokenizer(32);
            var options = new FineTuneOptions { Method = "full", Seed = 3 }.WithLabels(splits.Labels) with
            {
                Data = new DatasetSettings { MaxLength = 32 },
            };
            var modelDir = Path.Combine(dir, "run", "model");
            string expected;
            using (var prepared = Build(options))
            {
                Batch Collate(IReadOnlyList<TextExample> items) => TextClassification.Collate(tokenizer, items);
                var before = Engine.Evaluate(prepared.Classifier, splits.Test, Collate, 32);
                Engine.Train(prepared.Classifier, new ClassificationData<TextExample>(splits.Train, splits.Validation, Collate),
                    new TrainOptions { MaxSteps = 60, BatchSize = 16, LearningRate = 2e-3f, WarmupRatio = 0.1f, Seed = 5 });
                var after = Engine.Evaluate(prepared.Classifier, splits.Test, Collate, 32);
                Assert.That(after.Accuracy, Is.GreaterThanOrEqualTo(0.9f), $"test accuracy {after.Accuracy} (before training {before.Accuracy})");
                FineTuning.Save(prepared, modelDir);
                expected = Predict(prepared, tokenizer, WriteInput(dir, "new.jsonl",
                    "{\"id\": 1, \"text\": \"my cherry and grape\"}\n{\"id\": 2, \"text\": \"the tiger is a horse\"}\n{\"id\": 3, \"text\": \"a truck a car\"}\n"));
            }

            var read = FineTuning.ReadOptions(modelDir);
            Assert.That(read.Classes("run")!.Names, Is.EqualTo(splits.Labels.Names));
            Assert.That(JsonNode.Parse(File.ReadAllText(Path.Combine(modelDir, FineTuning.RunFile)))!["id2label"]!["2"]!.GetValue<string>(), Is.EqualTo("vehicle"));
            using var reloaded = FineTuning.Load(modelDir, Build);
            var merged = Path.Combine(dir, "merged");
            HfExport.WriteMerged(reloaded, merged);
            var config = JsonNode.Parse(File.ReadAllText(Path.Combine(merged, "config.json")))!;
            Assert.That(config["id2label"]!["2"]!.GetValue<string>(), Is.EqualTo("vehicle"), "the export keeps the run's class names");
            Assert.That(config["label2id"]!["animal"]!.GetValue<int>(), Is.EqualTo(0));
            var jsonl = Predict(reloaded, tokenizer, Path.Combine(dir, "new.jsonl"));
            Assert.That(jsonl, Is.EqualTo(expected), "the reloaded run predicts exactly what the trained one did");
            var records = jsonl.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
            Assert.That(records.Select(r => r["predicted_label"]!.GetValue<string>()), Is.EqualTo(new[] { "fruit", "animal", "vehicle" }));
            Assert.That(records.Select(r => r["id"]!.GetValue<int>()), Is.EqualTo(new[] { 1, 2, 3 }), "input fields keep their JSON types");
            foreach (var r in records)
                Assert.That(r["probabilities"]!.AsObject().Sum(p => p.Value!.GetValue<double>()), Is.EqualTo(1.0).Within(1e-5));

            var csvOut = Predict(reloaded, tokenizer, WriteInput(dir, "new.csv", "text,id\n\"banana, apple\",9\n   ,10\nbicycle train,11\n"), skip: true);
            var lines = csvOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.That(lines[0], Is.EqualTo("text,id,predicted_label,prob_animal,prob_fruit,prob_vehicle"));
            Assert.That(lines.Skip(1).Select(l => l.Split(',')[^4]), Is.EqualTo(new[] { "fruit", "vehicle" }), "the blank row is skipped");
            Assert.That(lines[1], Does.StartWith("\"banana, apple\",9,fruit,"));
            var e = Assert.Throws<DataFileException>(() => Predict(reloaded, tokenizer, Path.Combine(dir, "new.csv")))!;
            Assert.That(e.Message, Does.Contain("new.csv: row 2, column 'text': the text is empty"));

            var text = Predict(reloaded, tokenizer, WriteInput(dir, "new.txt", "grape cherry\neagle rabbit\n"));
            Assert.That(text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')[0]), Is.EqualTo(new[] { "fruit", "animal" }));
            Assert.That(text, Does.Match(@"^fruit\tanimal=[0-9.E-]+ fruit=[0-9.E-]+ vehicle=[0-9.E-]+\n"));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Test]
    public void Predict_refuses_runs_without_labels_and_pair_runs_on_plain_text()
    {
        using var imdbStyle = Build(new FineTuneOptions { Method = "bitfit" });
        var tokenizer = MiniLm.LoadTokenizer(16);
        Assert.That(Assert.Throws<ArgumentException>(() => FilePrediction.Text(imdbStyle, tokenizer, "x.txt", TextWriter.Null))!.Message, Does.Contain("no id2label"));
        var pairs = new FineTuneOptions { Method = "bitfit" }.WithLabels(new LabelMap(new[] { "no", "yes" })) with
        {
            Data = new DatasetSettings { TextColumn = "q", TextPairColumn = "a" },
        };
        using var pairRun = Build(pairs);
        Assert.That(Assert.Throws<ArgumentException>(() => FilePrediction.Text(pairRun, tokenizer, "x.txt", TextWriter.Null))!.Message,
            Does.Contain("sentence pairs").And.Contain("'q' and 'a'"));
    }

    private static string WriteInput(string dir, string name, string content)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, content);
        return path;
    }

    private static string Predict(PreparedClassifier prepared, BertTokenizerAdapter tokenizer, string input, bool skip = false)
    {
        var output = new StringWriter { NewLine = "\n" };
        FilePrediction.Text(prepared, tokenizer, input, output, skip);
        return output.ToString();
    }
}
