using System.IO.Compression;
using Finetune.Nn;
using Finetune.Nn.Data;

namespace Finetune.Tests.Nn;

public class VitTests
{
    private static readonly VitConfig Tiny = new() { ImageSize = 8, PatchSize = 4, HiddenSize = 16, NumLayers = 2, NumHeads = 4, IntermediateSize = 32 };

    [Test]
    public void Patch_embedding_cuts_row_major_patches_after_the_class_token()
    {
        var config = Tiny with { HiddenSize = 16, PatchSize = 4 };
        using var emb = new VitEmbeddings(config, new Generator(1));
        var identity = new float[16 * 16];
        for (int i = 0; i < 16; i++) identity[i * 16 + i] = 1f;
        var linear = (Linear)emb.NamedChildren().First(c => c.Key == "patch_embeddings").Value;
        using (var w = Tensor.FromArray(identity, 16, 16)) linear.Weight.CopyFrom(w);
        using (var zeros = Tensor.Zeros(1, 5, 16)) emb.Positions.CopyFrom(zeros);
        using var scope = TensorScope.Begin();
        var pixels = Enumerable.Range(0, 64).Select(i => (float)i).ToArray();
        var tokens = emb.Forward(Tensor.FromArray(pixels, 1, 1, 8, 8)).ToArray();
        Assert.That(tokens[..16], Is.EqualTo(emb.ClassToken.Value.ToArray()));
        // Patch (row 1, column 0) is token 1 + 2 = 3; its first row holds pixels 32..35.
        Assert.That(tokens.AsSpan(3 * 16, 4).ToArray(), Is.EqualTo(new[] { 32f, 33, 34, 35 }));
        Assert.That(tokens.AsSpan(3 * 16 + 4, 4).ToArray(), Is.EqualTo(new[] { 40f, 41, 42, 43 }));
    }

    [Test]
    public void Classifier_gives_logits_and_gradients_reach_every_parameter()
    {
        using var model = new VitForImageClassification(Tiny, 5, new Generator(2));
        using var scope = TensorScope.Begin();
        var logits = model.Forward(Tensor.Normal(new[] { 2, 1, 8, 8 }, 0f, 1f, new Generator(3)));
        Assert.That(logits.Shape, Is.EqualTo(new[] { 2, 5 }));
        logits.CrossEntropy(Tensor.FromArray(new[] { 1, 4 }, 2)).Backward();
        foreach (var (name, p) in model.NamedParameters()) Assert.That(p.Grad, Is.Not.Null, name);
        Assert.That(model.NamedParameters().Select(p => p.Key), Does.Contain("vit.encoder.layer.1.attention.self.query.weight").And.Contain("vit.embeddings.cls_token"));
        Assert.Throws<ArgumentException>(() => model.Forward(Tensor.Zeros(2, 1, 7, 7)));
    }

    [Test]
    public void Config_round_trips_and_names_a_bad_field()
    {
        Assert.That(VitConfig.FromJson(Tiny.ToJson()), Is.EqualTo(Tiny));
        var e = Assert.Throws<InvalidDataException>(() => VitConfig.FromJson(Tiny.ToJson().Replace("\"patch_size\": 4", "\"patch_size\": 3")))!;
        Assert.That(e.Message, Does.Contain("expected a multiple of patch_size (3)"));
        e = Assert.Throws<InvalidDataException>(() => VitConfig.FromJson(Tiny.ToJson().Replace("\"patch_size\": 4", "\"patch_size\": \"x\"")))!;
        Assert.That(e.Message, Does.Contain("'patch_size'"));
    }

    [Test]
    public void Idx_files_are_read_gzipped_or_raw_and_bad_ones_are_named()
    {
        var dir = Directory.CreateTempSubdirectory("finetune-idx-").FullName;
        try
        {
            static byte[] Idx(byte rank, int[] dims, byte[] data) =>
                new byte[] { 0, 0, 8, rank }.Concat(dims.SelectMany(d => new[] { (byte)(d >> 24), (byte)(d >> 16), (byte)(d >> 8), (byte)d })).Concat(data).ToArray();
            var pixels = Enumerable.Range(0, 2 * 28 * 28).Select(i => (byte)(i % 251)).ToArray();
            using (var gz = new GZipStream(File.Create(Path.Combine(dir, "t10k-images-idx3-ubyte.gz")), CompressionLevel.Fastest))
                gz.Write(Idx(3, new[] { 2, 28, 28 }, pixels));
            File.WriteAllBytes(Path.Combine(dir, "t10k-labels-idx1-ubyte"), Idx(1, new[] { 2 }, new byte[] { 9, 3 }));
            var images = FashionMnist.Load("t10k", dir);
            Assert.That(images.Select(i => i.Label), Is.EqualTo(new[] { 9, 3 }));
            Assert.That(images[1].Pixels, Is.EqualTo(pixels[(28 * 28)..]));
            Assert.That(FashionMnist.Subset(images, new[] { 3, 9 }).Select(i => i.Label), Is.EqualTo(new[] { 1, 0 }));
            var batch = FashionMnist.Collate(images);
            Assert.That(batch["pixel_values"].Shape, Is.EqualTo(new[] { 2, 1, 28, 28 }));

            File.WriteAllBytes(Path.Combine(dir, "t10k-labels-idx1-ubyte"), Idx(1, new[] { 3 }, new byte[] { 9, 3 }));
            Assert.That(Assert.Throws<InvalidDataException>(() => FashionMnist.Load("t10k", dir))!.Message, Does.Contain("promises 3 bytes"));
            var e = Assert.Throws<FileNotFoundException>(() => FashionMnist.Load("train", dir))!;
            Assert.That(e.Message, Does.Contain("dataset-fashion-mnist"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
