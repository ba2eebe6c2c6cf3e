using Finetune.Nn;
using Finetune.Nn.Data;
using Finetune.Nn.Training;
using Finetune.App;
using SkiaSharp;

namespace Finetune.Tests.Data;

/// <summary>train --data DIR and predict on a tiny ViT: class folders of PNGs, saved, reloaded, predicted from a list of paths.</summary>
public class ImageDataEndToEndTests
{
    private static readonly VitConfig Tiny = new() { ImageSize = 8, PatchSize = 4, Channels = 1, HiddenSize = 16, NumLayers = 1, NumHeads = 2, IntermediateSize = 32 };

    private static readonly ImageProcessorConfig Processor = ImageProcessorConfig.Default(Tiny);

    private static PreparedClassifier Build(FineTuneOptions options) => FineTuning.PrepareVit(new VitModel(Tiny, new Generator(4)), options);

    /// <summary>16×16 PNGs (resized to 8×8 on reading): light, dark, or striped, with a little per-image variation.</summary>
    private static void WriteImage(string path, string kind, int i)
    {
        using var bitmap = new SKBitmap(16, 16, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 16; x++)
            {
                byte v = kind switch
                {
                    "light" => (byte)(200 + (x * 7 + y * 3 + i) % 40),
                    "dark" => (byte)(20 + (x * 5 + y * 11 + i) % 40),
                    _ => (byte)((y / 2 + i) % 2 == 0 ? 240 : 10),
                };
                bitmap.SetPixel(x, y, new SKColor(v, v, v));
            }
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, data.ToArray());
    }

    [Test]
    public void Class_folders_train_a_vit_that_saves_reloads_and_predicts_image_paths()
    {
        var dir = Directory.CreateTempSubdirectory("finetune-images-e2e-").FullName;
        try
        {
            var kinds = new[] { "light", "dark", "striped" };
            foreach (var kind in kinds)
            {
                Directory.CreateDirectory(Path.Combine(dir, "train", kind));
                for (int i = 0; i < 20; i++) WriteImage(Path.Combine(dir, "train", kind, $"{i:D2}.png"), kind, i);
            }
            var splits = UserDataset.LoadImages(new DatasetFiles { Train = Path.Combine(dir, "train"), ValidationSplit = 0, TestSplit = 0.25, Seed = 2 }, Processor);
            Assert.That(splits.Labels.Names, Is.EqualTo(new[] { "dark", "light", "striped" }));
            Assert.That((splits.Train.Count, splits.Test.Count), Is.EqualTo((45, 15)));

            var options = new FineTuneOptions { Method = "full", Seed = 1 }.WithLabels(splits.Labels) with { Data = new DatasetSettings { Kind = DataKind.Image } };
            var modelDir = Path.Combine(dir, "run");
            Batch Collate(IReadOnlyList<LabeledImage> items) => Processor.Collate(items);
            using (var prepared = Build(options))
            {
                Engine.Train(prepared.Classifier, new ClassificationData<LabeledImage>(splits.Train, null, Collate),
                    new TrainOptions { MaxSteps = 40, BatchSize = 16, LearningRate = 3e-3f, WarmupRatio = 0.1f, Seed = 5 });
                Assert.That(Engine.Evaluate(prepared.Classifier, splits.Test, Collate).Accuracy, Is.GreaterThanOrEqualTo(0.9f));
                FineTuning.Save(prepared, modelDir, Processor);
            }

            Assert.That(ImageProcessorConfig.Load(modelDir, Tiny), Is.EqualTo(Processor).Using<ImageProcessorConfig>((a, b) =>
                a.Size == b.Size && a.Channels == b.Channels && a.Mean.SequenceEqual(b.Mean) && a.Std.SequenceEqual(b.Std)));
            Directory.CreateDirectory(Path.Combine(dir, "new"));
            WriteImage(Path.Combine(dir, "new", "a.png"), "striped", 7);
            WriteImage(Path.Combine(dir, "new", "b.png"), "light", 3);
            File.WriteAllText(Path.Combine(dir, "new", "c.png"), "not an image");
            File.WriteAllText(Path.Combine(dir, "list.txt"), "new/a.png\nnew/b.png\n");
            File.WriteAllText(Path.Combine(dir, "list.csv"), "image,note\nnew/b.png,x\nnew/c.png,y\nnew/missing.png,z\n");
            using var reloaded = FineTuning.Load(modelDir, Build);
            var output = new StringWriter { NewLine = "\n" };
            FilePrediction.Images(reloaded, Processor, Path.Combine(dir, "list.txt"), output);
            Assert.That(output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')[0]), Is.EqualTo(new[] { "striped", "light" }));

            var e = Assert.Throws<DataFileException>(() => FilePrediction.Images(reloaded, Processor, Path.Combine(dir, "list.csv"), TextWriter.Null))!;
            Assert.That(e.Message, Does.Contain("list.csv: row 2, column 'image': ").And.Contain("c.png: cannot decode the image"));
            File.AppendAllText(Path.Combine(dir, "list.txt"), "new/missing.png\n");
            Assert.That(Assert.Throws<DataFileException>(() => FilePrediction.Images(reloaded, Processor, Path.Combine(dir, "list.txt"), TextWriter.Null))!.Message,
                Does.Contain("list.txt: row 3, no image file").And.Contain("missing.png"));
            var csv = new StringWriter { NewLine = "\n" };
            var (predicted, skipped) = FilePrediction.Images(reloaded, Processor, Path.Combine(dir, "list.csv"), csv, skipBadRows: true);
            Assert.That((predicted, skipped), Is.EqualTo((1, 2)));
            Assert.That(csv.ToString(), Does.StartWith("image,note,predicted_label,prob_dark,prob_light,prob_striped\nnew/b.png,x,light,"));
            Assert.Throws<ArgumentException>(() => FilePrediction.Text(reloaded, Finetune.Nn.IO.MiniLm.LoadTokenizer(16), Path.Combine(dir, "list.txt"), TextWriter.Null));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
