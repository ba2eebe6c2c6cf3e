namespace Finetune.Nn.Text;

/// <summary>
/// Sentence pairs as BERT reads them: [CLS] a [SEP] b [SEP] with token types 0 up to the first [SEP] and 1 after it.
/// Too long a pair is cut as Hugging Face's <c>longest_first</c> does: the shorter text is kept whole when it fits in
/// half the budget, otherwise each gets half (the second the odd token), each cut at its end.
/// </summary>
public static class PairEncoding
{
    /// <summary>The word pieces of each text of a pair, cut to fit <paramref name="maxLength"/> with the three special tokens.</summary>
    public static (int FirstCount, int SecondCount) Budget(int first, int second, int maxLength)
    {
        if (maxLength < 3) throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength,
            "pair encoding: max length must leave room for [CLS] and two [SEP]");
        int budget = maxLength - 3;
        if (first + second <= budget) return (first, second);
        bool swap = first > second;
        int shorter = Math.Min(first, second), longer;
        longer = shorter > budget ? shorter : Math.Max(shorter, budget - shorter);
        if (shorter + longer > budget)
        {
            shorter = budget / 2;
            longer = shorter + budget % 2;
        }
        int a = swap ? longer : shorter, b = swap ? shorter : longer;
        return (Math.Min(first, a), Math.Min(second, b));
    }

    /// <summary>One row per pair, padded to the longest row.</summary>
    public static EncodedBatch EncodeBatch(BertTokenizerAdapter tokenizer, IReadOnlyList<string> first, IReadOnlyList<string> second,
        int? maxLength = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (first.Count != second.Count) throw new ArgumentException(
            $"pair encoding: {first.Count} first texts but {second.Count} second texts");
        if (first.Count == 0) throw new ArgumentException("pair encoding: the batch is empty");
        int max = maxLength ?? tokenizer.MaxLength;
        var rows = new (int[] Ids, int FirstEnd)[first.Count];
        for (int i = 0; i < rows.Length; i++)
        {
            var a = Pieces(tokenizer, first[i]);
            var b = Pieces(tokenizer, second[i]);
            var (na, nb) = Budget(a.Length, b.Length, max);
            var ids = new int[na + nb + 3];
            ids[0] = tokenizer.ClsId;
            Array.Copy(a, 0, ids, 1, na);
            ids[na + 1] = tokenizer.SepId;
            Array.Copy(b, 0, ids, na + 2, nb);
            ids[^1] = tokenizer.SepId;
            rows[i] = (ids, na + 2);
        }
        int seq = rows.Max(r => r.Ids.Length);
        var inputIds = new int[rows.Length * seq];
        var mask = new float[rows.Length * seq];
        var types = new int[rows.Length * seq];
        Array.Fill(inputIds, tokenizer.PadId);
        for (int r = 0; r < rows.Length; r++)
        {
            rows[r].Ids.CopyTo(inputIds, r * seq);
            Array.Fill(mask, 1f, r * seq, rows[r].Ids.Length);
            Array.Fill(types, 1, r * seq + rows[r].FirstEnd, rows[r].Ids.Length - rows[r].FirstEnd);
        }
        return new EncodedBatch(rows.Length, seq, inputIds, mask, types, rows.Select(r => r.Ids.Length).ToArray());
    }

    /// <summary>The word pieces of a text without [CLS] and [SEP], untruncated.</summary>
    private static int[] Pieces(BertTokenizerAdapter tokenizer, string text)
    {
        var ids = tokenizer.Encode(text, int.MaxValue);
        return ids.AsSpan(1, ids.Length - 2).ToArray();
    }
}
