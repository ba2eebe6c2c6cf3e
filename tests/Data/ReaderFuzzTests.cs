using System.Text;
using Finetune.Nn;
using Finetune.Nn.Data;
using Parquet;
using Parquet.Schema;
using SkiaSharp;

namespace Finetune.Tests.Data;

/// <summary>
/// Each reader's one entry point on mutated bytes (flips, cuts, insertions of a valid file): a reader either reads or
/// throws <see cref="DataFileException"/>, never anything else.
/// </summary>
public class ReaderFuzzTests
{
    private const int Mutants = 400;

    private static readonly ImageProcessorConfig Processor = new() { Size = 4, Channels = 3, Mean = new[] { 0f, 0f, 0f }, Std = new[] { 1f, 1f, 1f } };

    public static IEnumerable<TestCaseData> Readers()
    {
        var csv = Encoding.UTF8.GetBytes("text,label,score\n\"a, \"\"quoted\"\" one\",pos,1\nplain,neg,2.5\n\"multi\nline\",pos,\n");
        yield return new TestCaseData("csv", csv, (Action<byte[]>)(b => CsvTable.Read(new MemoryStream(b), "fuzz.csv")));
        yield return new TestCaseData("tsv", csv, (Action<byte[]>)(b => CsvTable.Read(new MemoryStream(b), "fuzz.tsv", '\t')));
        var jsonl = Encoding.UTF8.GetBytes("{\"text\": \"a \\u00e9 b\", \"label\": 1}\n{\"text\": \"c\", \"label\": \"x\", \"n\": [1, {\"k\": null}]}\n");
        yield return new TestCaseData("jsonl", jsonl, (Action<byte[]>)(b => JsonlTable.Read(new MemoryStream(b), "fuzz.jsonl")));
        yield return new TestCaseData("lines", Encoding.UTF8.GetBytes("one\ntwo ü\n"), (Action<byte[]>)(b => LineTable.Read(new MemoryStream(b), "fuzz.txt")));
        yield return new TestCaseData("parquet", ParquetBytes(), (Action<byte[]>)(b => ParquetTable.Read(new MemoryStream(b), "fuzz.parquet")));
        yield return new TestCaseData("png", ImageBytes(SKEncodedImageFormat.Png), (Action<byte[]>)(b => ImageDecoder.Decode(b, "fuzz.png", Processor)));
        yield return new TestCaseData("jpeg", ImageBytes(SKEncodedImageFormat.Jpeg), (Action<byte[]>)(b => ImageDecoder.Decode(b, "fuzz.jpg", Processor)));
    }

    [TestCaseSource(nameof(Readers))]
    public void Mutated_files_are_read_or_refused_with_a_data_file_error(string name, byte[] valid, Action<byte[]> read)
    {
        read(valid);
        var random = new Random(1234);
        int refused = 0;
        for (int m = 0; m < Mutants; m++)
        {
            var bytes = Mutate(valid, random);
            try
            {
                read(bytes);
            }
            catch (DataFileException)
            {
                refused++;
            }
            catch (Exception e)
            {
                Assert.Fail($"{name} mutant {m} ({Convert.ToBase64String(bytes)}) threw {e.GetType().Name}: {e.Message}");
            }
        }
        TestContext.Out.WriteLine($"{name}: {refused} of {Mutants} mutants refused");
    }

    private static byte[] Mutate(byte[] valid, Random random)
    {
        var bytes = new List<byte>(valid);
        int edits = 1 + random.Next(4);
        for (int e = 0; e < edits && bytes.Count > 0; e++)
        {
            int at = random.Next(bytes.Count);
            switch (random.Next(4))
            {
                case 0: bytes[at] ^= (byte)(1 << random.Next(8)); break;
                case 1: bytes[at] = (byte)random.Next(256); break;
                case 2: bytes.Insert(at, (byte)random.Next(256)); break;
                default: bytes.RemoveRange(at, Math.Min(bytes.Count - at, 1 + random.Next(16))); break;
            }
        }
        return bytes.ToArray();
    }

    private static byte[] ParquetBytes()
    {
        var text = new DataField<string>("text");
        var label = new DataField<int>("label");
        var stream = new MemoryStream();
        Task.Run(async () =>
        {
            await using var writer = await ParquetWriter.CreateAsync(new ParquetSchema(text, label), stream);
            using var group = writer.CreateRowGroup();
            await group.WriteAsync(text, new[] { "first text", "second" });
            await group.WriteAsync<int>(label, new[] { 0, 1 });
        }).GetAwaiter().GetResult();
        return stream.ToArray();
    }

    private static byte[] ImageBytes(SKEncodedImageFormat format)
    {
        using var bitmap = new SKBitmap(6, 5, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 6; x++)
                bitmap.SetPixel(x, y, new SKColor((byte)(40 * x), (byte)(50 * y), 128));
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(format, 90);
        return data.ToArray();
    }
}
