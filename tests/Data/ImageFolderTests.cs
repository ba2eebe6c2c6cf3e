using Finetune.Nn;
using Finetune.Nn.Data;
using SkiaSharp;

namespace Finetune.Tests.Data;

public class ImageFolderTests
{
    private static readonly ImageProcessorConfig Rgb2 = new() { Size = 2, Channels = 3, Mean = new[] { 0f, 0f, 0f }, Std = new[] { 1f, 1f, 1f } };

    /// <summary>A PNG of <paramref name="size"/>² pixels coloured by <paramref name="color"/>(x, y).</summary>
    private static byte[] Png(int size, Func<int, int, SKColor> color)
    {
        using var bitmap = new SKBitmap(size, size, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
                bitmap.SetPixel(x, y, color(x, y));
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    [Test]
    public void Decoding_gives_chw_bytes_in_rgb_or_grey()
    {
        var colors = new[] { new SKColor(255, 0, 0), new SKColor(0, 255, 0), new SKColor(0, 0, 255), new SKColor(10, 20, 30) };
        var png = Png(2, (x, y) => colors[2 * y + x]);
        Assert.That(ImageDecoder.Decode(png, "a.png", Rgb2), Is.EqualTo(new byte[] { 255, 0, 0, 10, 0, 255, 0, 20, 0, 0, 255, 30 }));
        var grey = ImageDecoder.Decode(png, "a.png", Rgb2 with { Channels = 1, Mean = new[] { 0f }, Std = new[] { 1f } });
        Assert.That(grey, Is.EqualTo(new byte[] { 76, 149, 29, (10 * 299 + 20 * 587 + 30 * 114) / 1000 }), "ITU-R 601 luma, as PIL's convert('L')");
    }

    [Test]
    public void Images_are_resized_to_the_model_size()
    {
        var png = Png(8, (x, y) => x < 4 ? new SKColor(200, 200, 200) : new SKColor(40, 40, 40));
        var chw = ImageDecoder.Decode(png, "a.png", Rgb2);
        Assert.That(chw, Has.Length.EqualTo(3 * 2 * 2));
        Assert.That(chw[0], Is.EqualTo(200).Within(2), "the left half stays light");
        Assert.That(chw[1], Is.EqualTo(40).Within(2), "the right half stays dark");
    }

    [Test]
    public void Undecodable_images_name_the_file()
    {
        Assert.That(Assert.Throws<DataFileException>(() => ImageDecoder.Decode("not an image"u8.ToArray(), "x.png", Rgb2))!.Message,
            Is.EqualTo("x.png: cannot decode the image: not a PNG, JPEG, BMP, GIF or WebP file"));
        Assert.That(Assert.Throws<DataFileException>(() => ImageDecoder.Decode(Array.Empty<byte>(), "e.png", Rgb2))!.Message, Does.Contain("empty"));
        var png = Png(16, (x, y) => new SKColor((byte)(x * 16), (byte)(y * 16), 0));
        Assert.That(Assert.Throws<DataFileException>(() => ImageDecoder.Decode(png[..(png.Length / 2)], "cut.png", Rgb2))!.Message, Does.StartWith("cut.png: cannot decode"));
    }

    [Test]
    public void Class_folders_become_labels_and_bad_images_stop_or_are_skipped()
    {
        var root = Directory.CreateTempSubdirectory("finetune-images-").FullName;
        var test = Directory.CreateTempSubdirectory("finetune-images-test-").FullName;
        try
        {
            foreach (var (name, shade) in new[] { ("light", (byte)220), ("dark", (byte)30) })
            {
                Directory.CreateDirectory(Path.Combine(root, name));
                for (int i = 0; i < 3; i++) File.WriteAllBytes(Path.Combine(root, name, $"{i}.png"), Png(4, (_, _) => new SKColor(shade, shade, shade)));
            }
            File.WriteAllText(Path.Combine(root, "dark", ".DS_Store"), "hidden files are ignored");
            var (data, labels) = ImageFolder.Read(root, Rgb2, null, false);
            Assert.That(labels.Names, Is.EqualTo(new[] { "dark", "light" }));
            Assert.That(data.Examples.Select(e => e.Label), Is.EqualTo(new[] { 0, 0, 0, 1, 1, 1 }));
            Assert.That(data.Examples[0].Pixels, Is.All.EqualTo(30));

            var bad = Path.Combine(root, "light", "3.png");
            File.WriteAllText(bad, "truncated");
            var e = Assert.Throws<DataFileException>(() => ImageFolder.Read(root, Rgb2, null, false))!;
            Assert.That(e.File, Is.EqualTo(bad));
            Assert.That(e.Message, Does.StartWith(bad + ": cannot decode the image"));
            var skipped = ImageFolder.Read(root, Rgb2, null, true).Data;
            Assert.That((skipped.Examples.Count, skipped.Skipped), Is.EqualTo((6, 1)));

            Directory.CreateDirectory(Path.Combine(test, "light"));
            Directory.CreateDirectory(Path.Combine(test, "grey"));
            File.WriteAllBytes(Path.Combine(test, "light", "a.png"), Png(4, (_, _) => SKColors.White));
            File.WriteAllBytes(Path.Combine(test, "grey", "b.png"), Png(4, (_, _) => SKColors.Gray));
            var unknown = Assert.Throws<DataFileException>(() => ImageFolder.Read(test, Rgb2, labels, false))!;
            Assert.That(unknown.Message, Does.Contain("b.png").And.Contain("class folder 'grey' is not one of the classes 'dark', 'light'"));
            var kept = ImageFolder.Read(test, Rgb2, labels, true).Data;
            Assert.That((kept.Examples.Single().Label, kept.Skipped), Is.EqualTo((1, 1)));
        }
        finally
        {
            Directory.Delete(root, true);
            Directory.Delete(test, true);
        }
    }

    [Test]
    public void Collate_normalises_each_channel_by_the_processor()
    {
        var p = new ImageProcessorConfig { Size = 1, Channels = 3, Mean = new[] { 0.5f, 0.25f, 0f }, Std = new[] { 0.5f, 0.25f, 2f } };
        using var scope = TensorScope.Begin();
        var batch = p.Collate(new[] { new LabeledImage(new byte[] { 255, 0, 51 }, 4) });
        Assert.That(batch["pixel_values"].Shape, Is.EqualTo(new[] { 1, 3, 1, 1 }));
        Assert.That(batch["pixel_values"].ToArray(), Is.EqualTo(new[] { 1f, -1f, 0.1f }).Within(1e-6f));
        Assert.That(batch.Labels.ToIntArray(), Is.EqualTo(new[] { 4 }));
    }

    [Test]
    public void Preprocessor_config_round_trips_and_must_match_the_model()
    {
        var model = new VitConfig { ImageSize = 28, Channels = 1 };
        var json = FashionMnist.Processor.ToJson();
        var read = ImageProcessorConfig.FromJson(json, model);
        Assert.That((read.Size, read.Channels, read.Mean[0], read.Std[0]), Is.EqualTo((28, 1, 0.2860f, 0.3530f)));
        var e = Assert.Throws<InvalidDataException>(() => ImageProcessorConfig.FromJson(json, model with { ImageSize = 14, PatchSize = 7 }, "p.json"))!;
        Assert.That(e.Message, Does.Contain("p.json").And.Contain("'size' is 28").And.Contain("14"));
        Assert.That(ImageProcessorConfig.Default(model).Mean, Is.EqualTo(new[] { 0.5f }));
    }
}
