using System.Text.Json;
using System.Text.Json.Nodes;

namespace Finetune.Nn.Text;

/// <summary>
/// The standard BERT <c>tokenizer.json</c> that Hugging Face's converter builds from a <c>vocab.txt</c>: BertNormalizer,
/// BertPreTokenizer, WordPiece with <c>##</c> and 100 characters per word, the [CLS] A [SEP] (B [SEP]) template.
/// </summary>
public static class BertTokenizerJson
{
    public static readonly IReadOnlyList<string> SpecialTokens = new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" };

    /// <summary>vocab.txt: one token per line, the id is the line number (a repeated token keeps its last line, as HF does).</summary>
    public static IReadOnlyList<string> ReadVocab(Stream vocab, string source)
    {
        ArgumentNullException.ThrowIfNull(vocab);
        using var reader = new StreamReader(vocab, leaveOpen: true);
        var tokens = new List<string>();
        while (reader.ReadLine() is { } line) tokens.Add(line);
        if (tokens.Count == 0) throw new InvalidDataException($"{source}: the vocabulary is empty");
        return tokens;
    }

    /// <summary>
    /// The tokenizer.json text. <paramref name="stripAccents"/> null follows <paramref name="lowercase"/>, as in HF's
    /// BertNormalizer. Every one of [PAD] [UNK] [CLS] [SEP] [MASK] must be in the vocabulary.
    /// </summary>
    public static string Build(IReadOnlyList<string> vocab, bool lowercase, bool? stripAccents, bool handleChineseChars = true,
        string source = "vocab.txt")
    {
        ArgumentNullException.ThrowIfNull(vocab);
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < vocab.Count; i++) ids[vocab[i]] = i;
        var missing = SpecialTokens.Where(t => !ids.ContainsKey(t)).ToList();
        if (missing.Count > 0)
            throw new InvalidDataException($"{source}: the BERT special tokens {string.Join(", ", missing)} are not in the vocabulary");
        var vocabJson = new JsonObject();
        foreach (var (token, id) in ids.OrderBy(p => p.Value)) vocabJson[token] = id;
        var added = new JsonArray();
        foreach (var t in SpecialTokens.OrderBy(t => ids[t]))
            added.Add(new JsonObject
            {
                ["id"] = ids[t], ["content"] = t, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                ["normalized"] = false, ["special"] = true,
            });
        JsonObject Special(string token, int typeId) => new() { ["SpecialToken"] = new JsonObject { ["id"] = token,
            ["type_id"] = typeId } };
        JsonObject Sequence(string id, int typeId) => new() { ["Sequence"] = new JsonObject { ["id"] = id, ["type_id"] = typeId } };
        JsonObject SpecialEntry(string token) => new() { ["id"] = token, ["ids"] = new JsonArray(ids[token]),
            ["tokens"] = new JsonArray(token) };
        var o = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = new JsonObject
            {
                ["type"] = "BertNormalizer", ["clean_text"] = true, ["handle_chinese_chars"] = handleChineseChars,
                ["strip_accents"] = stripAccents is { } s ? JsonValue.Create(s) : null, ["lowercase"] = lowercase,
            },
            ["pre_tokenizer"] = new JsonObject { ["type"] = "BertPreTokenizer" },
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(Special("[CLS]", 0), Sequence("A", 0), Special("[SEP]", 0)),
                ["pair"] = new JsonArray(Special("[CLS]", 0), Sequence("A", 0), Special("[SEP]", 0), Sequence("B", 1), Special("[SEP]", 1)),
                ["special_tokens"] = new JsonObject { ["[CLS]"] = SpecialEntry("[CLS]"), ["[SEP]"] = SpecialEntry("[SEP]") },
            },
            ["decoder"] = new JsonObject { ["type"] = "WordPiece", ["prefix"] = "##", ["cleanup"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "WordPiece", ["unk_token"] = "[UNK]", ["continuing_subword_prefix"] = "##",
                ["max_input_chars_per_word"] = 100, ["vocab"] = vocabJson,
            },
        };
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }
}
