using Finetune.Nn.IO;
using Finetune.Nn.Text;

namespace Finetune.Tests.Nn;

public class TruncationTests
{
    [Test]
    public void Head_and_tail_truncation_keeps_the_first_quarter_and_the_end()
    {
        var tokenizer = MiniLm.LoadTokenizer(10);
        string text = string.Join(" ", Enumerable.Range(0, 30).Select(i => "word" + i));
        var all = tokenizer.Encode(text, 200);
        var head = tokenizer.Encode(text);
        tokenizer.Truncation = TruncationMode.HeadAndTail;
        var headTail = tokenizer.Encode(text);
        Assert.That(head, Has.Length.EqualTo(10));
        Assert.That(headTail, Has.Length.EqualTo(10));
        Assert.That(head[..9], Is.EqualTo(all[..9]));
        // 8 pieces: 2 from the start, 6 from the end, between [CLS] and [SEP].
        Assert.That(headTail[..3], Is.EqualTo(all[..3]));
        Assert.That(headTail[3..9], Is.EqualTo(all[^7..^1]));
        Assert.That(headTail[9], Is.EqualTo(tokenizer.SepId));
        Assert.That(tokenizer.Encode("short text"), Is.EqualTo(all.Length > 0 ? tokenizer.Encode("short text", 200) : null), "short texts are untouched");
    }
}
