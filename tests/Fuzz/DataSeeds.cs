using System.Text;
using Finetune.Nn;
using Parquet;
using Parquet.Schema;
using SkiaSharp;

namespace Finetune.Tests.Fuzz;

/// <summary>Small valid dataset files, the seeds the fuzzer mutates: quoting, multi-line cells, nested JSON, pixels.</summary>
public static class DataSeeds
{
    public static readonly ImageProcessorConfig Processor =
        new() { Size = 4, Channels = 3, Mean = new[] { 0f, 0f, 0f }, Std = new[] { 1f, 1f, 1f } };

    public static byte[] Csv => Encoding.UTF8.GetBytes("text,label,score\n\"a, \"\"quoted\"\" one\",pos,1\nplain,neg,2.5\n\"multi\nline\",pos,\n");

    public static byte[] Tsv => Encoding.UTF8.GetBytes("text\tlabel\n\"a\t\"\"quoted\"\" one\"\tpos\nplain\tneg\n");

    public static byte[] Jsonl =>
        Encoding.UTF8.GetBytes("{\"text\": \"a \\u00e9 b\", \"label\": 1}\n{\"text\": \"c\", \"label\": \"x\", \"n\": [1, {\"k\": null}]}\n");

    public static byte[] Lines => Encoding.UTF8.GetBytes("one\ntwo ü\n");

    public static byte[] Parquet()
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

    public static byte[] Image(SKEncodedImageFormat format)
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
