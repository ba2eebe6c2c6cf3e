using Finetune.Nn;
using Finetune.Nn.IO;
using Finetune.Nn.Training;
using Finetune.App;
using Finetune.Peft;
using Finetune.Tests.Nn;
using Finetune.Tests.Training;

namespace Finetune.Tests.Reliability;

/// <summary>Regression tests for the defects of issue 14 that are not a single file's bytes (those live in tests/fixtures/fuzz).</summary>
public class HostileInputTests
{
    private string _dir = null!;

    [SetUp]
    public void MakeDir() => _dir = Directory.CreateTempSubdirectory("finetune-hostile-").FullName;

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    private static PreparedClassifier Tiny(FineTuneOptions options) =>
        FineTuning.Prepare(new BertModel(CheckpointTests.Tiny, new Generator(3)), options);

    [Test]
    public void Adapter_whose_weights_are_NaN_is_refused_naming_the_tensor()
    {
        using (var prepared = Tiny(new FineTuneOptions { Method = "lora" })) FineTuning.Save(prepared, _dir);
        var weights = Path.Combine(_dir, FineTuning.AdapterDirectory, "adapter_model.safetensors");
        var tensors = SafeTensors.Load(weights);
        var name = tensors.Keys.Order(StringComparer.Ordinal).First();
        using (var scope = TensorScope.Begin())
            SafeTensors.Save(weights, tensors.ToDictionary(kv => kv.Key, kv => kv.Key == name ? Tensor.Full(kv.Value.Shape.ToArray(), float.NaN) : kv.Value));
        foreach (var t in tensors.Values) t.Dispose();
        using var again = Tiny(new FineTuneOptions { Method = "lora" });
        var e = Assert.Throws<InvalidDataException>(() => again.Peft.LoadAdapter(Path.Combine(_dir, FineTuning.AdapterDirectory)))!;
        Assert.That(e.Message, Does.Contain(weights).And.Contain($"tensor '{name}'").And.Contain("finite"));
    }

    [Test]
    public void Rank_above_the_layer_width_is_refused_before_allocating()
    {
        var e = Assert.Throws<ArgumentException>(() => Tiny(new FineTuneOptions { Method = "lora", Rank = 17 }))!;
        Assert.That(e.Message, Does.Contain("rank 17").And.Contain("at most 16"));
        Assert.Throws<ArgumentException>(() => Tiny(new FineTuneOptions { Method = "lora", Rank = 100_000 }));
    }

    [TestCase("full", null, -3, "FreezeLayers (--freeze-layers) is -3")]
    [TestCase("ia3", 4, null, "--rank does not apply to --method ia3")]
    [TestCase("full", null, 5, "--freeze-layers is 5, expected at most the model's 2 layers")]
    public void Options_out_of_range_or_not_for_the_method_are_refused(string method, int? rank, int? freeze, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => Tiny(new FineTuneOptions { Method = method, Rank = rank, FreezeLayers = freeze }))!;
        Assert.That(ErrorText.OneLine(e), Does.StartWith(message));
    }

    [Test]
    public void Config_records_print_without_dividing_by_zero()
    {
        Assert.DoesNotThrow(() => _ = new VitConfig { PatchSize = 0 }.ToString());
        Assert.DoesNotThrow(() => _ = new BertConfig { NumHeads = 0 }.ToString());
        var e = Assert.Throws<ArgumentException>(() => new BertConfig { NumHeads = 0 }.Validate())!;
        Assert.That(e.Message, Does.Contain("'num_attention_heads' is 0"));
    }

    [Test]
    public void ReadMetadata_of_a_corrupt_file_throws_only_InvalidDataException()
    {
        var path = Path.Combine(_dir, "bad.safetensors");
        foreach (var bytes in new[] { new byte[] { 1, 2, 3 }, "\x05\0\0\0\0\0\0\0{\"a\":"u8.ToArray(), "\x02\0\0\0\0\0\0\0{}"u8.ToArray().Concat(new byte[] { 9 }).ToArray() })
        {
            File.WriteAllBytes(path, bytes);
            var e = Assert.Throws<InvalidDataException>(() => SafeTensors.ReadMetadata(path))!;
            Assert.That(e.Message, Does.StartWith(path));
        }
    }

    [Test]
    public void Memory_estimate_refuses_a_run_that_cannot_fit_and_names_the_estimate()
    {
        var config = BertConfig.MiniLmL6;
        var demo = MemoryEstimate.ForTraining(config, 22_713_986, 74_498, batch: 16, tokens: 128);
        // The measured peak of this run is 1,832 MiB (docs/BENCHMARKS.md): the estimate is within a factor 1.5.
        Assert.That(demo.TotalBytes / (double)(1832L << 20), Is.InRange(1 / 1.5, 1.5));
        var huge = MemoryEstimate.ForTraining(config, 22_713_986, 74_498, batch: 4096, tokens: 512);
        var e = Assert.Throws<InsufficientMemoryException>(() => huge.Check(16L << 30, "host memory"))!;
        Assert.That(e.Message, Does.Contain("needs about").And.Contain("16.0 GiB of host memory"));
        Assert.Throws<OverflowException>(() => MemoryEstimate.ForTraining(config, 1, 1, int.MaxValue, int.MaxValue));
    }

    private static TrainOptions Options(string dir) => new()
    {
        MaxSteps = 6, BatchSize = 16, LearningRate = 5e-3f, WarmupSteps = 1, CheckpointEvery = 3, OutputDirectory = dir,
    };

    private string Checkpointed()
    {
        using (var model = new EngineTests.Mlp(8, 16, 3, 9)) Engine.Train(model, EngineTests.Data(), Options(_dir));
        return Path.Combine(_dir, "checkpoint-3");
    }

    [Test]
    public void Resume_with_other_settings_is_refused_listing_them_unless_forced()
    {
        var checkpoint = Checkpointed();
        using var model = new EngineTests.Mlp(8, 16, 3, 9);
        var changed = Options(_dir) with { BatchSize = 8, Seed = 7, RunName = "ia3", ResumeFrom = checkpoint };
        var e = Assert.Throws<ArgumentException>(() => Engine.Train(model, EngineTests.Data(), changed))!;
        Assert.That(e.Message, Does.Contain("batch_size: checkpoint 16, now 8").And.Contain("seed: checkpoint 42, now 7")
            .And.Contain("run_name: checkpoint run, now ia3").And.Contain("--force"));
        Assert.DoesNotThrow(() => Engine.Train(model, EngineTests.Data(), changed with { ForceResume = true }));
    }

    [Test]
    public void Checkpoint_tensor_with_a_transposed_shape_or_an_extra_tensor_is_refused()
    {
        var checkpoint = Checkpointed();
        var weights = Path.Combine(checkpoint, "trainable.safetensors");
        var tensors = SafeTensors.Load(weights);
        using (var scope = TensorScope.Begin())
        {
            var transposed = tensors.ToDictionary(kv => kv.Key, kv => kv.Key == "fc1.weight" ? kv.Value.T.Contiguous() : kv.Value);
            SafeTensors.Save(weights, transposed);
            using var model = new EngineTests.Mlp(8, 16, 3, 9);
            var e = Assert.Throws<InvalidDataException>(() => Engine.Train(model, EngineTests.Data(), Options(_dir) with { ResumeFrom = checkpoint }))!;
            Assert.That(e.Message, Does.Contain("tensor 'fc1.weight' is").And.Contain("expected float32 [16, 8]"));

            var extra = new Dictionary<string, Tensor>(tensors) { ["fc3.weight"] = Tensor.Ones(2, 2) };
            SafeTensors.Save(weights, extra);
            e = Assert.Throws<InvalidDataException>(() => Engine.Train(model, EngineTests.Data(), Options(_dir) with { ResumeFrom = checkpoint }))!;
            Assert.That(e.Message, Does.Contain("unexpected tensor 'fc3.weight'"));
        }
        foreach (var t in tensors.Values) t.Dispose();
    }

    [Test]
    public void Stale_checkpoint_temp_folders_are_removed_at_the_next_start()
    {
        var stale = Path.Combine(_dir, "checkpoint-3.tmp-999999999");
        Directory.CreateDirectory(stale);
        File.WriteAllText(Path.Combine(stale, "trainable.safetensors"), "half");
        Checkpointed();
        Assert.That(Directory.Exists(stale), Is.False);
        Assert.That(Directory.GetDirectories(_dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "checkpoint-3", "checkpoint-6" }));
    }

    [Test]
    public void Interrupted_swap_gets_the_previous_folder_back()
    {
        var target = Path.Combine(_dir, "model");
        AtomicDirectory.Write(target, d => File.WriteAllText(Path.Combine(d, "v"), "1"));
        // A kill between the two renames: only "model.old-PID" (whole) and "model.tmp-PID" (whole or not) remain.
        Directory.Move(target, target + ".old-999999998");
        Directory.CreateDirectory(target + ".tmp-999999998");
        Assert.That(AtomicDirectory.Recover(target), Is.EqualTo(2));
        Assert.That(File.ReadAllText(Path.Combine(target, "v")), Is.EqualTo("1"));
        Assert.That(Directory.GetDirectories(_dir), Has.Length.EqualTo(1));
    }
}
