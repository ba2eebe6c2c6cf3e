using System.Text.Json;
using System.Text.Json.Nodes;
using HfTokenizer = Tokenizers.DotNet.Tokenizer;

namespace Finetune.Nn.Text;

/// <summary>
/// Hugging Face's own tokenization (the Rust <c>tokenizers</c> library through Tokenizers.DotNet) reading a model's
/// <c>tokenizer.json</c>, shaped for a BERT-family encoder: the library normalises, pre-tokenizes and splits into
/// wordpieces; this class adds [CLS] … [SEP] itself so it can truncate first (head, or head+tail), then pads
/// each batch to its longest row with a 0/1 attention mask.
/// </summary>
public sealed class BertTokenizerAdapter : IDisposable
{
    public const string TokenizerFile = "tokenizer.json";
    public const string VocabFile = "vocab.txt";
    public const string TokenizerConfigFile = "tokenizer_config.json";

    private readonly HfTokenizer _tokenizer;

    private BertTokenizerAdapter(HfTokenizer tokenizer, int clsId, int sepId, int padId, int maxLength, string source, string json)
    {
        _tokenizer = tokenizer;
        TokenizerJson = json;
        ClsId = clsId;
        SepId = sepId;
        PadId = padId;
        MaxLength = maxLength;
        Source = source;
    }

    /// <summary>
    /// A tokenizer from the text of a tokenizer.json. Its post-processor must be BERT's [CLS] A [SEP] (TemplateProcessing
    /// or BertProcessing); its own truncation and padding are switched off, this class does both.
    /// </summary>
    public static BertTokenizerAdapter FromTokenizerJson(string json, string source, int maxLength = 512)
    {
        ArgumentNullException.ThrowIfNull(json);
        CheckMaxLength(maxLength);
        JsonObject o;
        try
        {
            o = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException($"{source}: the top level is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: not valid JSON: {e.Message}", e);
        }
        var (cls, sep) = SpecialIds(o, source);
        string original = o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        int pad = o["padding"] is JsonObject padding && padding["pad_id"] is JsonValue padId ? padId.GetValue<int>()
            : TokenId(o, "[PAD]") ?? 0;
        o["post_processor"] = null;
        o["truncation"] = null;
        o["padding"] = null;
        // Tokenizers.DotNet reads a file: hand it the rewritten copy, then remove it.
        var tmp = Path.Combine(Path.GetTempPath(), $"finetune-tokenizer-{Guid.NewGuid():N}.json");
        try
        {
            File.WriteAllText(tmp, o.ToJsonString());
            HfTokenizer tokenizer;
            try
            {
                tokenizer = new HfTokenizer(tmp);
            }
            catch (Tokenizers.DotNet.TokenizerException e)
            {
                throw new InvalidDataException($"{source}: Hugging Face tokenizers cannot load it: {e.Message}", e);
            }
            return new BertTokenizerAdapter(tokenizer, cls, sep, pad, maxLength, source, original);
        }
        finally
        {
            File.Delete(tmp);
        }
    }

    public static BertTokenizerAdapter FromTokenizerJsonFile(string path, int maxLength = 512)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: not found", path);
        return FromTokenizerJson(File.ReadAllText(path), path, maxLength);
    }

    /// <summary>
    /// The standard BERT tokenizer over a vocab.txt (one token per line, id = line number); see <see cref="BertTokenizerJson"/>.
    /// <paramref name="stripAccents"/> null follows <paramref name="lowerCase"/>.
    /// </summary>
    public static BertTokenizerAdapter FromVocab(Stream vocab, bool lowerCase = true, int maxLength = 512, bool? stripAccents = null,
        string source = VocabFile)
    {
        var json = BertTokenizerJson.Build(BertTokenizerJson.ReadVocab(vocab, source), lowerCase, stripAccents, source: source);
        return FromTokenizerJson(json, source, maxLength);
    }

    public static BertTokenizerAdapter FromVocabFile(string path, bool lowerCase = true, int maxLength = 512, bool? stripAccents = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: not found", path);
        using var s = File.OpenRead(path);
        return FromVocab(s, lowerCase, maxLength, stripAccents, path);
    }

    /// <summary>
    /// A model folder's tokenizer: its tokenizer.json, else its vocab.txt with <c>do_lower_case</c> (default true),
    /// <c>strip_accents</c> and <c>tokenize_chinese_chars</c> from tokenizer_config.json when present.
    /// </summary>
    public static BertTokenizerAdapter FromModelDirectory(string directory, int maxLength = 512)
    {
        var json = Path.Combine(directory, TokenizerFile);
        if (File.Exists(json)) return FromTokenizerJsonFile(json, maxLength);
        var vocab = Path.Combine(directory, VocabFile);
        if (!File.Exists(vocab))
            throw new FileNotFoundException($"{directory}: the model folder has neither {TokenizerFile} nor {VocabFile}", json);
        bool lower = true, chinese = true;
        bool? strip = null;
        var configPath = Path.Combine(directory, TokenizerConfigFile);
        if (File.Exists(configPath))
        {
            JsonObject config;
            try
            {
                config = JsonNode.Parse(File.ReadAllText(configPath)) as JsonObject
                    ?? throw new InvalidDataException($"{configPath}: the top level is not a JSON object");
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{configPath}: not valid JSON: {e.Message}", e);
            }
            lower = Bool(config, "do_lower_case", configPath) ?? true;
            strip = Bool(config, "strip_accents", configPath);
            chinese = Bool(config, "tokenize_chinese_chars", configPath) ?? true;
        }
        using var s = File.OpenRead(vocab);
        var built = BertTokenizerJson.Build(BertTokenizerJson.ReadVocab(s, vocab), lower, strip, chinese, vocab);
        return FromTokenizerJson(built, vocab, maxLength);
    }

    /// <summary>The tokenizer.json this tokenizer was read from (or built), its own template and settings included.</summary>
    public string TokenizerJson { get; }

    /// <summary>The file (or resource) the tokenizer came from, for messages.</summary>
    public string Source { get; }

    /// <summary>Longest sequence produced, special tokens included.</summary>
    public int MaxLength { get; }

    public int PadId { get; }

    public int ClsId { get; }

    public int SepId { get; }

    /// <summary>
    /// How a text longer than the maximum is cut: keep its head, or its first quarter and its end (head+tail,
    /// which Sun et al. 2019 found best for long-review classification, where the verdict often comes last).
    /// </summary>
    public TruncationMode Truncation { get; set; } = TruncationMode.Head;

    /// <summary>The library's ids of <paramref name="text"/>: normalised, pre-tokenized, wordpieces; no special tokens, no
    /// truncation.</summary>
    public int[] Pieces(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) i++;
            else if (char.IsSurrogate(text[i]))
                throw new ArgumentException($"tokenizer: the text has an unpaired UTF-16 surrogate U+{(int)text[i]:X4} at index {i}",
                    nameof(text));
        }
        var ids = _tokenizer.Encode(text);
        var pieces = new int[ids.Length];
        for (int i = 0; i < ids.Length; i++) pieces[i] = checked((int)ids[i]);
        return pieces;
    }

    /// <summary>[CLS] wordpieces [SEP], truncated to <paramref name="maxLength"/> (default <see cref="MaxLength"/>).</summary>
    public int[] Encode(string text, int? maxLength = null)
    {
        int max = maxLength ?? MaxLength;
        CheckMaxLength(max);
        var pieces = Pieces(text);
        int n = Math.Min(pieces.Length, max - 2);
        int head = Truncation == TruncationMode.HeadAndTail && pieces.Length > n ? n / 4 : n;
        var ids = new int[n + 2];
        ids[0] = ClsId;
        pieces.AsSpan(0, head).CopyTo(ids.AsSpan(1));
        pieces.AsSpan(pieces.Length - (n - head), n - head).CopyTo(ids.AsSpan(1 + head));
        ids[n + 1] = SepId;
        return ids;
    }

    /// <summary>
    /// Encodes each text as a row, padded to the longest row (or to the maximum length with <paramref name="padToMaxLength"/>).
    /// </summary>
    public EncodedBatch EncodeBatch(IReadOnlyList<string> texts, int? maxLength = null, bool padToMaxLength = false)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (texts.Count == 0) throw new ArgumentException("tokenizer: the batch is empty");
        var rows = texts.Select(t => Encode(t, maxLength)).ToArray();
        int seq = padToMaxLength ? maxLength ?? MaxLength : rows.Max(r => r.Length);
        var ids = new int[rows.Length * seq];
        var mask = new float[rows.Length * seq];
        Array.Fill(ids, PadId);
        for (int b = 0; b < rows.Length; b++)
        {
            rows[b].CopyTo(ids, b * seq);
            Array.Fill(mask, 1f, b * seq, rows[b].Length);
        }
        return new EncodedBatch(rows.Length, seq, ids, mask, new int[rows.Length * seq], rows.Select(r => r.Length).ToArray());
    }

    /// <summary>
    /// Writes tokenizer.json, tokenizer_config.json and, for a WordPiece model, vocab.txt into <paramref name="directory"/>
    /// (each atomically), so Hugging Face's AutoTokenizer and this class read them back.
    /// </summary>
    public void SaveFiles(string directory)
    {
        var o = JsonNode.Parse(TokenizerJson)!.AsObject();
        Directory.CreateDirectory(directory);
        Finetune.Nn.IO.AtomicFile.WriteAllText(Path.Combine(directory, TokenizerFile), TokenizerJson);
        var config = new JsonObject
        {
            ["tokenizer_class"] = "BertTokenizer",
            ["do_lower_case"] = o["normalizer"]?["lowercase"]?.DeepClone() ?? true,
            ["model_max_length"] = MaxLength,
        };
        if (o["model"]?["type"]?.GetValue<string>() == "WordPiece" && o["model"]!["vocab"] is JsonObject vocab)
        {
            var tokens = vocab.OrderBy(p => p.Value!.GetValue<int>()).Select(p => p.Key).ToList();
            foreach (var (field, id) in new[] { ("cls_token", ClsId), ("sep_token", SepId), ("pad_token", PadId) })
                if (id >= 0 && id < tokens.Count) config[field] = tokens[id];
            Finetune.Nn.IO.AtomicFile.WriteAllText(Path.Combine(directory, VocabFile), string.Join("\n", tokens) + "\n");
        }
        Finetune.Nn.IO.AtomicFile.WriteAllText(Path.Combine(directory, TokenizerConfigFile),
            config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    public void Dispose() => _tokenizer.Dispose();

    private static void CheckMaxLength(int max)
    {
        if (max < 2) throw new ArgumentOutOfRangeException("maxLength", max, "tokenizer: max length must leave room for [CLS] and [SEP]");
    }

    /// <summary>[CLS] and [SEP] from the post-processor: TemplateProcessing's single template, or BertProcessing's cls/sep.</summary>
    private static (int Cls, int Sep) SpecialIds(JsonObject o, string source)
    {
        var post = o["post_processor"] as JsonObject;
        string type = post?["type"]?.GetValue<string>() ?? "null";
        try
        {
            if (type == "BertProcessing" && post!["cls"] is JsonArray { Count: 2 } cls && post["sep"] is JsonArray { Count: 2 } sep &&
                cls[1] is JsonValue clsId && sep[1] is JsonValue sepId)
                return (clsId.GetValue<int>(), sepId.GetValue<int>());
            if (type == "TemplateProcessing" && post!["single"] is JsonArray { Count: 3 } single &&
                single[0]?["SpecialToken"]?["id"] is JsonValue first && single[1]?["Sequence"] is not null &&
                single[2]?["SpecialToken"]?["id"] is JsonValue last)
            {
                int Id(string token) => post["special_tokens"]?[token]?["ids"] is JsonArray { Count: 1 } a && a[0] is JsonValue v
                    ? v.GetValue<int>()
                    : throw new InvalidDataException($"{source}: field 'post_processor.special_tokens' has no single id for '{token}'");
                return (Id(first.GetValue<string>()), Id(last.GetValue<string>()));
            }
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{source}: field 'post_processor' ({type}) is malformed: {e.Message}", e);
        }
        throw new InvalidDataException(
            $"{source}: field 'post_processor' is {type}, expected BERT's [CLS] $A [SEP] (TemplateProcessing or BertProcessing)");
    }

    private static int? TokenId(JsonObject o, string token)
    {
        if (o["added_tokens"] is JsonArray added)
            foreach (var t in added)
                if (t?["content"]?.GetValue<string>() == token) return t["id"]!.GetValue<int>();
        return o["model"]?["vocab"] is JsonObject vocab && vocab[token] is JsonValue v ? v.GetValue<int>() : null;
    }

    private static bool? Bool(JsonObject o, string key, string source)
    {
        var n = o[key];
        if (n is null) return null;
        try
        {
            return n.GetValue<bool>();
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidDataException($"{source}: field '{key}' must be true, false or null, got {n.ToJsonString()}", e);
        }
    }
}
