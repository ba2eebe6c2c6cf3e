using System.Buffers.Binary;
using System.Text;
using Finetune.Nn;
using Finetune.Nn.IO;

namespace Finetune.Tests.Nn;

public class CheckpointTests
{
    internal static readonly BertConfig Tiny = new()
    {
        VocabSize = 50, HiddenSize = 16, NumLayers = 2, NumHeads = 4, IntermediateSize = 32, MaxPositions = 20,
    };

    private string _dir = null!;

    [SetUp]
    public void MakeDir() => _dir = Directory.CreateTempSubdirectory("finetune-nn-").FullName;

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void Safetensors_round_trip_preserves_names_shapes_values_and_metadata()
    {
        var path = Path.Combine(_dir, "t.safetensors");
        using var a = Tensor.Normal(new[] { 3, 5 }, generator: new Generator(1));
        using var b = Tensor.FromArray(new[] { 1, -2, 3 }, 3);
        using var c = a.T;
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["w"] = a, ["ids"] = b, ["wt"] = c }, new Dictionary<string, string> { ["format"] = "pt" });
        var back = SafeTensors.Load(path);
        Assert.That(back.Keys, Is.EquivalentTo(new[] { "w", "ids", "wt" }));
        Assert.That(back["w"].ToArray(), Is.EqualTo(a.ToArray()));
        Assert.That(back["wt"].Shape, Is.EqualTo(new[] { 5, 3 }));
        Assert.That(back["wt"].ToArray(), Is.EqualTo(c.ToArray()));
        Assert.That(back["ids"].ToIntArray(), Is.EqualTo(new[] { 1, -2, 3 }));
        Assert.That(SafeTensors.ReadMetadata(path)["format"], Is.EqualTo("pt"));
        Assert.That(Directory.GetFiles(_dir), Has.Length.EqualTo(1), "the temporary file must be renamed away");
        foreach (var t in back.Values) t.Dispose();
    }

    [Test]
    public void Truncated_safetensors_file_names_the_file_and_the_field()
    {
        var path = Path.Combine(_dir, "t.safetensors");
        using var a = Tensor.Ones(4, 4);
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["w"] = a });
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^5]);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path))!;
        Assert.That(e.Message, Does.Contain(path).And.Contain("data_offsets"));
    }

    [Test]
    public void Corrupted_safetensors_header_length_gives_a_clear_error()
    {
        var path = Path.Combine(_dir, "t.safetensors");
        using var a = Tensor.Ones(2);
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["w"] = a });
        var bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1UL << 40);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path))!;
        Assert.That(e.Message, Does.Contain(path).And.Contain("header length"));
    }

    [Test]
    public void Safetensors_entry_whose_size_disagrees_with_its_shape_is_rejected()
    {
        var path = Path.Combine(_dir, "bad.safetensors");
        var header = Encoding.UTF8.GetBytes("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,16]}}");
        var file = new byte[8 + header.Length + 16];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)header.Length);
        header.CopyTo(file, 8);
        File.WriteAllBytes(path, file);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path))!;
        Assert.That(e.Message, Does.Contain("'w'").And.Contain("a span of 24 bytes"));
    }

    [Test]
    public void Bert_checkpoint_round_trips_config_and_weights()
    {
        using var model = new BertModel(Tiny with { LayerNormEps = 1e-7f }, new Generator(3));
        BertCheckpoint.Save(model, _dir);
        Assert.That(File.Exists(Path.Combine(_dir, "config.json")) && File.Exists(Path.Combine(_dir, "model.safetensors")));
        using var back = BertCheckpoint.Load(_dir);
        Assert.That(back.Config, Is.EqualTo(model.Config));
        var names = model.NamedParameters().Select(p => p.Key).ToArray();
        Assert.That(back.NamedParameters().Select(p => p.Key), Is.EqualTo(names));
        Assert.That(names, Does.Contain("encoder.layer.1.attention.output.LayerNorm.bias").And.Contain("pooler.dense.weight"));
        foreach (var (name, p) in model.NamedParameters())
            Assert.That(back.GetParameter(name).Value.ToArray(), Is.EqualTo(p.Value.ToArray()), name);
    }

    [Test]
    public void Loading_a_checkpoint_with_a_missing_tensor_names_it()
    {
        using var model = new BertModel(Tiny, new Generator(3));
        BertCheckpoint.Save(model, _dir);
        var path = Path.Combine(_dir, "model.safetensors");
        var state = SafeTensors.Load(path);
        state.Remove("encoder.layer.0.intermediate.dense.weight", out var removed);
        removed!.Dispose();
        SafeTensors.Save(path, state);
        foreach (var t in state.Values) t.Dispose();
        var e = Assert.Throws<InvalidDataException>(() => BertCheckpoint.Load(_dir))!;
        Assert.That(e.Message, Does.Contain("missing tensor 'encoder.layer.0.intermediate.dense.weight'").And.Contain(path));
    }

    [Test]
    public void Config_json_with_a_wrong_field_type_names_the_field()
    {
        var e = Assert.Throws<InvalidDataException>(() => BertConfig.FromJson("{\"hidden_size\": \"big\"}", "x/config.json"))!;
        Assert.That(e.Message, Does.Contain("x/config.json").And.Contain("hidden_size"));
    }
}
