using Finetune.Kernels;
using Microsoft.ML.Tokenizers;

namespace Finetune.Nn.Text;

/// <summary>
/// BERT WordPiece tokenization (Microsoft.ML.Tokenizers' BertTokenizer) shaped for the model: [CLS] tokens [SEP],
/// truncation to a maximum length, right padding with [PAD], a 0/1 attention mask and token types, one sentence per row.
/// </summary>
public sealed class BertTokenizerAdapter
{
    private readonly BertTokenizer _tokenizer;

    private BertTokenizerAdapter(BertTokenizer tokenizer, int maxLength)
    {
        if (maxLength < 2)
            throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, "tokenizer: max length must leave "
                + "room for [CLS] and [SEP]");
        _tokenizer = tokenizer;
        MaxLength = maxLength;
    }

    /// <summary>A tokenizer over a vocab.txt (one token per line, id = line number).</summary>
    public static BertTokenizerAdapter FromVocab(Stream vocab, bool lowerCase = true, int maxLength = 512)
    {
        ArgumentNullException.ThrowIfNull(vocab);
        var options = new BertOptions { LowerCaseBeforeTokenization = lowerCase, ApplyBasicTokenization = true };
        return new BertTokenizerAdapter(BertTokenizer.Create(vocab, options), maxLength);
    }

    public static BertTokenizerAdapter FromVocabFile(string path, bool lowerCase = true, int maxLength = 512)
    {
        using var s = File.OpenRead(path);
        return FromVocab(s, lowerCase, maxLength);
    }

    /// <summary>Longest sequence produced, special tokens included.</summary>
    public int MaxLength { get; }

    public int PadId => _tokenizer.PaddingTokenId;

    public int ClsId => _tokenizer.ClassificationTokenId;

    public int SepId => _tokenizer.SeparatorTokenId;

    /// <summary>
    /// How a text longer than the maximum is cut: keep its head, or its first quarter and its end (head+tail,
    /// which Sun et al. 2019 found best for long-review classification, where the verdict often comes last).
    /// </summary>
    public TruncationMode Truncation { get; set; } = TruncationMode.Head;

    /// <summary>[CLS] wordpieces [SEP], truncated to <paramref name="maxLength"/> (default <see cref="MaxLength"/>).</summary>
    public int[] Encode(string text, int? maxLength = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        int max = maxLength ?? MaxLength;
        if (max < 2)
            throw new ArgumentOutOfRangeException(nameof(maxLength), max, "tokenizer: max length must leave room for [CLS] and [SEP]");
        var pieces = _tokenizer.EncodeToIds(text, addSpecialTokens: false, considerPreTokenization: true, considerNormalization: true);
        int n = Math.Min(pieces.Count, max - 2);
        int head = Truncation == TruncationMode.HeadAndTail && pieces.Count > n ? n / 4 : n;
        var ids = new int[n + 2];
        ids[0] = ClsId;
        for (int i = 0; i < head; i++) ids[i + 1] = pieces[i];
        for (int i = head; i < n; i++) ids[i + 1] = pieces[pieces.Count - n + i];
        ids[n + 1] = SepId;
        return ids;
    }

    /// <summary>The wordpiece strings of <paramref name="text"/>, without special tokens (for inspection).</summary>
    public IReadOnlyList<string> Tokenize(string text) =>
        _tokenizer.EncodeToTokens(text, out _).Select(t => t.Value).ToArray();

    /// <summary>
    /// Encodes each text as a row, padded to the longest row (or to the maximum length with
    /// <paramref name="padToMaxLength"/>).
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
}
