using Finetune;
using Finetune.App.Reporting;
using Finetune.Nn;
using Finetune.Nn.Training;

namespace Finetune.Tests.Training;

public class EngineTests
{
    /// <summary>A small MLP classifier with dropout, so resume must restore the dropout stream too.</summary>
    internal sealed class Mlp : Module, IClassifier
    {
        public Mlp(int inputs, int hidden, int classes, ulong seed)
        {
            var g = new Generator(seed);
            RegisterModule("fc1", new Linear(inputs, hidden, generator: g));
            RegisterModule("drop", new Dropout(0.2f));
            RegisterModule("fc2", new Linear(hidden, classes, generator: g));
        }

        public Module Module => this;

        public Tensor Logits(Batch batch) =>
            Child<Linear>("fc2").Forward(Child<Dropout>("drop").Forward(Child<Linear>("fc1").Forward(batch["x"]).Gelu()));
    }

    internal sealed record Example(float[] X, int Label);

    /// <summary>Three Gaussian blobs in 8 dims.</summary>
    private static List<Example> Blobs(int count, ulong seed)
    {
        var noise = Tensor.Normal(new[] { count, 8 }, 0f, 0.8f, new Generator(seed)).ToArray();
        return Enumerable.Range(0, count).Select(i =>
        {
            int label = i % 3;
            var x = new float[8];
            for (int j = 0; j < 8; j++) x[j] = noise[i * 8 + j] + (j % 3 == label ? 1.5f : 0f);
            return new Example(x, label);
        }).ToList();
    }

    private static Batch Collate(IReadOnlyList<Example> items) => new(
        new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray(items.SelectMany(e => e.X).ToArray(), items.Count, 8) },
        Tensor.FromArray(items.Select(e => e.Label).ToArray(), items.Count));

    internal static ClassificationData<Example> Data() => new(Blobs(600, 1), Blobs(150, 2), Collate);

    private static string TempDir() => Directory.CreateTempSubdirectory("finetune-engine-").FullName;

    [Test]
    public void Train_learns_the_blobs_reports_progress_and_writes_the_report()
    {
        var dir = TempDir();
        using var model = new Mlp(8, 32, 3, 5);
        var progress = new List<TrainingProgress>();
        var report = Engine.Train(model, Data(), new TrainOptions
        {
            MaxSteps = 120, BatchSize = 16, LearningRate = 1e-2f, EvalEvery = 40, OutputDirectory = dir, RunName = "blobs",
            Progress = new Recorder(progress),
        });
        Assert.That(progress.Where(p => p.Evaluation is null).Select(p => p.Step), Is.EqualTo(Enumerable.Range(1, 120)));
        Assert.That(progress.Where(p => p.Evaluation is not null).Select(p => p.Evaluation!), Is.EqualTo(report.Evaluations));
        Assert.That(progress.All(p => p.TotalSteps == 120 && p.RunName == "blobs"));
        Assert.That(report.Steps, Is.EqualTo(120));
        Assert.That(report.Final!.Accuracy, Is.GreaterThan(0.85f));
        Assert.That(report.Losses.Take(10).Average(l => l.Loss), Is.GreaterThan(report.Losses.TakeLast(10).Average(l => l.Loss)));
        Assert.That(report.Evaluations.Select(e => e.Step), Is.EqualTo(new[] { 40, 80, 120 }));
        Assert.That(report.TrainableParameters, Is.EqualTo(8 * 32 + 32 + 32 * 3 + 3));
        Assert.That(report.PeakMemoryBytes, Is.GreaterThan(0));
        Assert.That(File.ReadAllText(Path.Combine(dir, "report.json")), Does.Contain("\"run_name\": \"blobs\""));
        Assert.That(File.Exists(Path.Combine(dir, "loss.png")), Is.False, "the engine writes JSON only; plots are the app's");
        LossPlot.WriteInto(dir, report);
        var png = File.ReadAllBytes(Path.Combine(dir, "loss.png"));
        Assert.That(png[1..4], Is.EqualTo("PNG"u8.ToArray()));
        Directory.Delete(dir, true);
    }

    [Test]
    public void Resuming_from_a_checkpoint_continues_the_exact_loss_sequence()
    {
        var options = new TrainOptions
        {
            MaxSteps = 30, BatchSize = 16, LearningRate = 5e-3f, EvalEvery = 10, WarmupSteps = 5, GradientAccumulation = 2,
        };
        TrainingReport straight;
        using (var model = new Mlp(8, 16, 3, 9)) straight = Engine.Train(model, Data(), options);

        var dir = TempDir();
        using (var model = new Mlp(8, 16, 3, 9))
            Engine.Train(model, Data(), options with { MaxSteps = 30, CheckpointEvery = 12, OutputDirectory = dir });
        TrainingReport resumed;
        using (var fresh = new Mlp(8, 16, 3, 77)) // different init: the checkpoint must overwrite it
            resumed = Engine.Train(fresh, Data(), options with { ResumeFrom = Path.Combine(dir, "checkpoint-12") });

        Assert.That(resumed.Losses.Select(l => l.Loss), Is.EqualTo(straight.Losses.Select(l => l.Loss)), "bit-identical losses after resume");
        Assert.That(resumed.Evaluations.Select(e => e.Accuracy), Is.EqualTo(straight.Evaluations.Select(e => e.Accuracy)));
        Assert.That(Directory.GetDirectories(dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "checkpoint-12", "checkpoint-24", "checkpoint-30" }));
        Directory.Delete(dir, true);
    }

    [Test]
    public void Frozen_weights_stay_bit_identical_and_get_no_gradients()
    {
        using var model = new Mlp(8, 16, 3, 4);
        model.FreezeMatching("fc1.*");
        var before = model.GetParameter("fc1.weight").Value.ToArray();
        var report = Engine.Train(model, Data(), new TrainOptions { MaxSteps = 10, BatchSize = 8, LearningRate = 1e-2f });
        Assert.That(report.TrainableParameters, Is.EqualTo(16 * 3 + 3));
        Assert.That(model.GetParameter("fc1.weight").Value.ToArray(), Is.EqualTo(before));
        Assert.That(model.GetParameter("fc1.weight").Grad, Is.Null);
        Assert.That(model.GetParameter("fc2.weight").Value.ToArray(), Is.Not.EqualTo(new Mlp(8, 16, 3, 4).GetParameter("fc2.weight").Value.ToArray()));
    }

    [Test]
    public void A_non_finite_loss_stops_training_naming_the_step()
    {
        using var model = new Mlp(8, 16, 3, 4);
        var bad = Data() with
        {
            Collate = items =>
            {
                var b = Collate(items);
                return b with { Inputs = new Dictionary<string, Tensor> { ["x"] = b["x"] * float.NaN } };
            },
        };
        var e = Assert.Throws<TrainingDivergedException>(() => Engine.Train(model, bad, new TrainOptions { MaxSteps = 5, BatchSize = 8 }))!;
        Assert.That(e.Step, Is.EqualTo(1));
        Assert.That(e.Message, Does.Contain("step 1").And.Contain("NaN"));
    }

    [Test]
    public void Bad_options_name_the_option_and_value()
    {
        using var model = new Mlp(8, 16, 3, 4);
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => Engine.Train(model, Data(), new TrainOptions { BatchSize = 0 }))!.Message,
            Does.Contain("BatchSize").And.Contain("0"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => Engine.Train(model, Data(), new TrainOptions { LearningRate = float.NaN }))!.Message,
            Does.Contain("LearningRate"));
        Assert.That(Assert.Throws<ArgumentException>(() => Engine.Train(model, Data(), new TrainOptions { CheckpointEvery = 5 }))!.Message,
            Does.Contain("OutputDirectory"));
        Assert.Throws<DirectoryNotFoundException>(() => Engine.Train(model, Data(), new TrainOptions { ResumeFrom = "/nonexistent/checkpoint-3" }));
        model.Freeze();
        Assert.That(Assert.Throws<InvalidOperationException>(() => Engine.Train(model, Data(), new TrainOptions { MaxSteps = 1 }))!.Message,
            Does.Contain("no trainable parameters"));
    }

    /// <summary>Records reports synchronously (Progress&lt;T&gt; would post them to a thread-pool context).</summary>
    private sealed class Recorder(List<TrainingProgress> into) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => into.Add(value);
    }
}
