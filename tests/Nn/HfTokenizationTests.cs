using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using Finetune.Nn.Data;
using Finetune.Nn.IO;
using Finetune.Nn.Text;

namespace Finetune.Tests.Nn;

/// <summary>
/// Tokenization is Hugging Face's: ids against the reference written by tests/fixtures/hf-tokenizers/reference.mjs
/// (HF tokenizers' Node binding with the BERT pipeline assembled from vocab.txt), and against the library's own output.
/// </summary>
public class HfTokenizationTests
{
    private static string Fixture(string name) => Path.Combine(TestContext.CurrentContext.TestDirectory, "fixtures", name);

    private static string[] EdgeCases() => JsonSerializer.Deserialize<string[]>(File.ReadAllText(Fixture("tokenizer_edge_cases.json")))!;

    private static string MiniLmTokenizerJson()
    {
        using var vocab = MiniLm.OpenVocab();
        return BertTokenizerJson.Build(BertTokenizerJson.ReadVocab(vocab, "vocab.txt"), lowercase: true, stripAccents: null);
    }

    private static string HashIds(int[] ids) => Convert.ToHexStringLower(SHA256.HashData(MemoryMarshal.AsBytes(ids.AsSpan())))[..16];

    [Test]
    public void All_50000_imdb_reviews_get_exactly_the_ids_of_hugging_face_tokenizers()
    {
        using var gz = new GZipStream(File.OpenRead(Fixture("imdb_hf_token_hashes.txt.gz")), CompressionMode.Decompress);
        var lines = new StreamReader(gz).ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string vocabHash;
        using (var vocab = MiniLm.OpenVocab()) vocabHash = Convert.ToHexStringLower(SHA256.HashData(vocab));
        Assert.That(lines[1], Is.EqualTo($"# vocab sha256 {vocabHash}"), "the reference was made from MiniLM's vocab.txt");
        var expected = lines.Where(l => !l.StartsWith('#')).ToArray();

        using var doc = JsonDocument.Parse(File.ReadAllBytes(ImdbReviews.Fetch()));
        var texts = doc.RootElement.EnumerateArray().Select(r => r.GetProperty("t").GetString()!).ToArray();
        Assert.That(texts, Has.Length.EqualTo(50000));
        Assert.That(expected, Has.Length.EqualTo(texts.Length));

        using var tokenizer = MiniLm.LoadTokenizer();
        var mismatches = new List<string>();
        long tokens = 0;
        for (int i = 0; i < texts.Length; i++)
        {
            var ids = tokenizer.Encode(texts[i], int.MaxValue);
            tokens += ids.Length;
            var line = $"{ids.Length} {HashIds(ids)}";
            if (line != expected[i]) mismatches.Add($"review {i}: ours '{line}', HF '{expected[i]}'");
        }
        TestContext.Out.WriteLine($"{texts.Length} reviews, {tokens} ids, {mismatches.Count} mismatches");
        Assert.That(mismatches, Is.Empty, string.Join("\n", mismatches.Take(10)));
    }

    [Test]
    public void Edge_cases_get_the_ids_of_the_library_and_of_the_reference()
    {
        var cases = EdgeCases();
        var reference = JsonSerializer.Deserialize<int[][]>(File.ReadAllText(Fixture("tokenizer_edge_cases_hf.json")))!;
        Assert.That(reference, Has.Length.EqualTo(cases.Length));
        var json = MiniLmTokenizerJson();
        var path = Path.Combine(Path.GetTempPath(), $"tokenizer-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        try
        {
            // The library itself on the unmodified tokenizer.json, its own [CLS]/[SEP] template included.
            using var library = new Tokenizers.DotNet.Tokenizer(path);
            using var ours = BertTokenizerAdapter.FromTokenizerJson(json, "minilm tokenizer.json");
            for (int i = 0; i < cases.Length; i++)
            {
                var ids = ours.Encode(cases[i], int.MaxValue);
                Assert.That(ids, Is.EqualTo(library.Encode(cases[i]).Select(u => (int)u).ToArray()), $"case {i}: {cases[i]}");
                Assert.That(ids, Is.EqualTo(reference[i]), $"case {i} against the Node reference: {cases[i]}");
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void Accents_symbols_and_emoji_follow_bert_rules()
    {
        using var tokenizer = MiniLm.LoadTokenizer();
        using var vocab = MiniLm.OpenVocab();
        var words = BertTokenizerJson.ReadVocab(vocab, "vocab.txt");
        string Tokens(string text) => string.Join(" ", tokenizer.Pieces(text).Select(id => words[id]));
        Assert.That(Tokens("Café"), Is.EqualTo("cafe"), "accents are stripped");
        Assert.That(Tokens("$5 < 6"), Is.EqualTo("$ 5 < 6"), "ASCII symbols are punctuation, not dropped");
        Assert.That(Tokens("good 😀"), Is.EqualTo("good [UNK]"), "an emoji is [UNK]");
        Assert.That(Tokens(new string('a', 150)), Is.EqualTo("[UNK]"), "a word over 100 characters is [UNK]");
    }

    [Test]
    public void A_folder_with_only_vocab_txt_follows_its_tokenizer_config()
    {
        var dir = Directory.CreateTempSubdirectory("vocab-folder-").FullName;
        try
        {
            File.WriteAllLines(Path.Combine(dir, "vocab.txt"), new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "Café", "cafe", "café" });
            using (var cased = BertTokenizerAdapter.FromModelDirectory(dir))
                Assert.That(cased.Pieces("Café"), Is.EqualTo(new[] { 6 }), "no tokenizer_config.json: uncased, accents stripped");
            File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), "{\"do_lower_case\": false}");
            using (var cased = BertTokenizerAdapter.FromModelDirectory(dir))
                Assert.That(cased.Pieces("Café"), Is.EqualTo(new[] { 5 }), "cased keeps accents");
            File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), "{\"do_lower_case\": true, \"strip_accents\": false}");
            using (var keep = BertTokenizerAdapter.FromModelDirectory(dir))
                Assert.That(keep.Pieces("Café"), Is.EqualTo(new[] { 7 }));
            File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), "{\"do_lower_case\": \"yes\"}");
            Assert.That(() => BertTokenizerAdapter.FromModelDirectory(dir),
                Throws.InstanceOf<InvalidDataException>().With.Message.Contains("tokenizer_config.json").And.Message.Contains("do_lower_case"));
            File.Delete(Path.Combine(dir, "vocab.txt"));
            Assert.That(() => BertTokenizerAdapter.FromModelDirectory(dir),
                Throws.InstanceOf<FileNotFoundException>().With.Message.Contains("neither tokenizer.json nor vocab.txt"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void Bad_tokenizer_files_are_named_with_the_field()
    {
        var json = JsonSerializer.Deserialize<System.Text.Json.Nodes.JsonObject>(MiniLmTokenizerJson())!;
        json["post_processor"] = new System.Text.Json.Nodes.JsonObject { ["type"] = "RobertaProcessing" };
        Assert.That(() => BertTokenizerAdapter.FromTokenizerJson(json.ToJsonString(), "x/tokenizer.json"),
            Throws.InstanceOf<InvalidDataException>().With.Message.Contains("x/tokenizer.json").And.Message.Contains("post_processor"));
        Assert.That(() => BertTokenizerAdapter.FromTokenizerJson("{", "y/tokenizer.json"),
            Throws.InstanceOf<InvalidDataException>().With.Message.Contains("y/tokenizer.json"));
        json["post_processor"] = System.Text.Json.Nodes.JsonNode.Parse(MiniLmTokenizerJson())!["post_processor"]!.DeepClone();
        json["model"]!["type"] = "NoSuchModel";
        Assert.That(() => BertTokenizerAdapter.FromTokenizerJson(json.ToJsonString(), "z/tokenizer.json"),
            Throws.InstanceOf<InvalidDataException>().With.Message.Contains("z/tokenizer.json"));
        using var tokenizer = MiniLm.LoadTokenizer();
        Assert.That(() => tokenizer.Encode("bad \ud800 text"), Throws.ArgumentException.With.Message.Contains("index 4"));
    }
}
