using System.Text;
using Finetune.Nn.Data;
using Finetune.Nn.IO;
using Finetune.Nn.Text;

namespace Finetune.Tests.Data;

public class TextDatasetTests
{
    private static RecordTable Csv(string text, string name = "data.csv") => CsvTable.Read(new MemoryStream(Encoding.UTF8.GetBytes(text)), name);

    [Test]
    public void String_labels_become_classes_in_ordinal_order_with_id2label()
    {
        var (data, labels) = TextDataset.FromTable(Csv("text,label\na,neutral\nb,positive\nc,negative\nd,positive\n"), new TextColumns(), null, false);
        Assert.That(labels!.Names, Is.EqualTo(new[] { "negative", "neutral", "positive" }));
        Assert.That(data.Examples.Select(e => e.Label), Is.EqualTo(new[] { 1, 2, 0, 2 }));
        Assert.That(labels.Id2Label(), Is.EqualTo(new Dictionary<string, string> { ["0"] = "negative", ["1"] = "neutral", ["2"] = "positive" }));
        Assert.That(labels.Label2Id(), Is.EqualTo(new Dictionary<string, int> { ["negative"] = 0, ["neutral"] = 1, ["positive"] = 2 }));
        Assert.That(LabelMap.FromId2Label(labels.Id2Label(), "config.json").Names, Is.EqualTo(labels.Names));
    }

    [Test]
    public void Label_maps_round_trip_through_a_hugging_face_config()
    {
        var config = new System.Text.Json.Nodes.JsonObject { ["model_type"] = "bert" };
        new LabelMap(new[] { "neg", "neu", "pos" }).WriteTo(config);
        Assert.That(config.ToJsonString(), Does.Contain("\"id2label\":{\"0\":\"neg\",\"1\":\"neu\",\"2\":\"pos\"}").And.Contain("\"label2id\":{\"neg\":0,"));
        Assert.That(LabelMap.ReadFrom(config, "config.json")!.Names, Is.EqualTo(new[] { "neg", "neu", "pos" }));
        Assert.That(LabelMap.ReadFrom(new System.Text.Json.Nodes.JsonObject(), "config.json"), Is.Null);
        var gap = new Dictionary<string, string> { ["0"] = "a", ["2"] = "b" };
        Assert.That(Assert.Throws<InvalidDataException>(() => LabelMap.FromId2Label(gap, "c.json"))!.Message, Does.Contain("c.json: id2label key '2'"));
    }

    [Test]
    public void Integer_labels_keep_numeric_order_so_0_to_k_keep_their_ids()
    {
        var (data, labels) = TextDataset.FromTable(Csv("text,label\na,10\nb,2\nc,0\nd,1\n"), new TextColumns(), null, false);
        Assert.That(labels!.Names, Is.EqualTo(new[] { "0", "1", "2", "10" }));
        Assert.That(data.Examples.Select(e => e.Label), Is.EqualTo(new[] { 3, 2, 0, 1 }));
    }

    [Test]
    public void Columns_are_chosen_by_name_and_pairs_are_read()
    {
        var table = Csv("id,premise,hypothesis,gold\n1,A man sleeps,A person rests,entailment\n2,A dog runs,A cat sleeps,contradiction\n");
        var (data, labels) = TextDataset.FromTable(table, new TextColumns("premise", "hypothesis", "gold"), null, false);
        Assert.That(data.Examples[0], Is.EqualTo(new TextExample("A man sleeps", "A person rests", 1, 1)));
        Assert.That(labels!.Names, Is.EqualTo(new[] { "contradiction", "entailment" }));
    }

    [Test]
    public void Bad_rows_stop_the_read_naming_file_row_and_column()
    {
        var cols = new TextColumns();
        void Fails(string csv, int row, string? column, string problem)
        {
            var e = Assert.Throws<DataFileException>(() => TextDataset.FromTable(Csv(csv), cols, null, false))!;
            Assert.That((e.File, e.Row, e.Column), Is.EqualTo(("data.csv", (int?)row, column)), e.Message);
            Assert.That(e.Message, Does.StartWith($"data.csv: row {row}, ").And.Contain(problem));
        }
        Fails("text,label\na,x\n   ,y\n", 2, "text", "the text is empty");
        Fails("text,label\na,x\nb\n", 2, "label", "no value");
        Fails("text,label\na,x\nb, \n", 2, "label", "the label is empty");
        Fails("text,label\na,x\nb,y,z\n", 2, null, "3 fields where the header has 2");
        var missing = Assert.Throws<DataFileException>(() => TextDataset.FromTable(Csv("text,label\na,x\n"), cols with { Label = "gold" }, null, false))!;
        Assert.That(missing.Message, Does.Contain("column 'gold': no such column (named by --label-column)"));
    }

    [Test]
    public void Unknown_labels_in_a_test_file_name_the_value_and_the_classes()
    {
        var (_, labels) = TextDataset.FromTable(Csv("text,label\na,cat\nb,dog\n"), new TextColumns(), null, false);
        var e = Assert.Throws<DataFileException>(() => TextDataset.FromTable(Csv("text,label\nc,dog\nd,bird\n", "test.csv"), new TextColumns(), labels, false))!;
        Assert.That(e.Message, Is.EqualTo("test.csv: row 2, column 'label': unknown label 'bird'; the classes are 'cat', 'dog'"));
    }

    [Test]
    public void Skipping_bad_rows_counts_them_and_keeps_the_first_reasons()
    {
        var csv = "text,label\na,x\n,x\nb,y\nc\nd,y,extra\ne,x\n";
        var (data, labels) = TextDataset.FromTable(Csv(csv), new TextColumns(), null, skipBadRows: true);
        Assert.That(data.Examples.Select(e => e.Text), Is.EqualTo(new[] { "a", "b", "e" }));
        Assert.That(data.Examples.Select(e => e.Row), Is.EqualTo(new[] { 1, 3, 6 }));
        Assert.That(data.Skipped, Is.EqualTo(3));
        Assert.That(data.SkipReasons[0], Does.StartWith("data.csv: row 2, column 'text'"));
        Assert.That(labels!.Count, Is.EqualTo(2));
        var all = Assert.Throws<DataFileException>(() => TextDataset.FromTable(Csv("text,label\n,x\n,y\n"), new TextColumns(), null, true))!;
        Assert.That(all.Message, Does.Contain("all 2 rows are bad"));
    }

    [Test]
    public void One_class_is_not_a_classifier()
    {
        var e = Assert.Throws<DataFileException>(() => TextDataset.FromTable(Csv("text,label\na,x\nb,x\n"), new TextColumns(), null, false))!;
        Assert.That(e.Message, Does.Contain("at least 2 classes").And.Contain("'x'"));
    }

    [Test]
    public void Prediction_input_needs_no_label_column()
    {
        var (data, labels) = TextDataset.FromTable(Csv("text\nhello\nworld\n"), new TextColumns(), null, false, withLabels: false);
        Assert.That(labels, Is.Null);
        Assert.That(data.Examples.Select(e => e.Label), Is.EqualTo(new[] { -1, -1 }));
    }

    [Test]
    public void The_split_is_seeded_disjoint_and_complete()
    {
        var items = Enumerable.Range(0, 100).ToList();
        var a = DatasetSplit.Split(items, 0.1, 0.2, seed: 5);
        var b = DatasetSplit.Split(items, 0.1, 0.2, seed: 5);
        var c = DatasetSplit.Split(items, 0.1, 0.2, seed: 6);
        Assert.That((a.Train.Count, a.Validation.Count, a.Test.Count), Is.EqualTo((70, 10, 20)));
        Assert.That(a.Train, Is.EqualTo(b.Train));
        Assert.That(a.Test, Is.EqualTo(b.Test));
        Assert.That(c.Test, Is.Not.EqualTo(a.Test), "another seed holds out other rows");
        Assert.That(a.Train.Concat(a.Validation).Concat(a.Test).Order(), Is.EqualTo(items));
        Assert.That(a.Train, Is.Ordered, "each part keeps file order");
        Assert.That(Assert.Throws<ArgumentException>(() => DatasetSplit.Split(new[] { 1, 2 }, 0.5, 0.5, 1))!.Message, Does.Contain("none for training"));
        Assert.Throws<ArgumentOutOfRangeException>(() => DatasetSplit.Split(items, -0.1, 0, 1));
    }

    [Test]
    public void Separate_validation_and_test_files_replace_the_split_and_use_the_training_classes()
    {
        var dir = Directory.CreateTempSubdirectory("finetune-data-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "train.csv"), "text,label\n" + string.Join("\n", Enumerable.Range(0, 20).Select(i => $"t{i},{(i % 2 == 0 ? "even" : "odd")}")) + "\n");
            File.WriteAllText(Path.Combine(dir, "test.jsonl"), "{\"text\": \"x\", \"label\": \"odd\"}\n");
            var files = new DatasetFiles { Train = Path.Combine(dir, "train.csv"), Test = Path.Combine(dir, "test.jsonl"), ValidationSplit = 0.25, Seed = 3 };
            var s = UserDataset.LoadText(files, new TextColumns());
            Assert.That((s.Train.Count, s.Validation.Count, s.Test.Count), Is.EqualTo((15, 5, 1)));
            Assert.That(s.Test[0].Label, Is.EqualTo(s.Labels.Names.ToList().IndexOf("odd")));
            Assert.That(UserDataset.LoadText(files, new TextColumns()).Validation, Is.EqualTo(s.Validation), "the same seed splits the same way");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [TestCase(5, 3, 20, 5, 3)]
    [TestCase(30, 3, 20, 14, 3)]
    [TestCase(3, 30, 20, 3, 14)]
    [TestCase(30, 30, 20, 8, 9)]
    [TestCase(30, 31, 21, 9, 9)]
    public void Pairs_are_cut_longest_first_as_hugging_face_does(int a, int b, int max, int expectA, int expectB)
    {
        Assert.That(PairEncoding.Budget(a, b, max), Is.EqualTo((expectA, expectB)));
    }

    [Test]
    public void Pairs_get_token_types_0_then_1_and_the_classifier_reads_them()
    {
        var tokenizer = MiniLm.LoadTokenizer(16);
        var single = tokenizer.Encode("the movie was great");
        var encoded = PairEncoding.EncodeBatch(tokenizer, new[] { "the movie was great", "yes" }, new[] { "i agree", "no" });
        int seq = encoded.SequenceLength;
        var row0 = encoded.InputIds.Take(seq).ToArray();
        Assert.That(row0.Take(single.Length - 1), Is.EqualTo(single.Take(single.Length - 1)), "[CLS] and the first text as alone");
        Assert.That(row0[single.Length - 1], Is.EqualTo(tokenizer.SepId));
        var types0 = encoded.TokenTypeIds.Take(seq).ToArray();
        Assert.That(types0.Take(single.Length), Is.All.EqualTo(0));
        Assert.That(types0.Skip(single.Length).Take(encoded.Lengths[0] - single.Length), Is.All.EqualTo(1));
        Assert.That(row0[encoded.Lengths[0] - 1], Is.EqualTo(tokenizer.SepId));
        Assert.That(encoded.TokenTypeIds.Skip(seq + encoded.Lengths[1]).Take(seq - encoded.Lengths[1]), Is.All.EqualTo(0), "padding has type 0");
        Assert.That(encoded.Lengths, Is.All.LessThanOrEqualTo(16));

        using var scope = TensorScope.Begin();
        var batch = TextClassification.Collate(tokenizer, new[] { new TextExample("a", "b", 0), new TextExample("c", "d", 1) });
        Assert.That(batch.Inputs.ContainsKey("token_type_ids"));
        Assert.That(TextClassification.Collate(tokenizer, new[] { new TextExample("a", null, 0) }).Inputs.ContainsKey("token_type_ids"), Is.False);
        Assert.Throws<ArgumentException>(() => TextClassification.Collate(tokenizer, new[] { new TextExample("a", "b", 0), new TextExample("c", null, 1) }));
    }
}
