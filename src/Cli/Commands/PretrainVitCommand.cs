using System.CommandLine;
using System.Diagnostics;
using Finetune.App.Reporting;
using Finetune.Kernels.Cpu;
using Finetune.Nn;
using Finetune.Nn.Data;
using Finetune.Nn.Training;
using Finetune.Peft;
using Spectre.Console;

namespace Finetune.Cli.Commands;

/// <summary>Trains a small ViT on five Fashion-MNIST classes and caches it as the pretrained base every PEFT method adapts.</summary>
internal static class PretrainVitCommand
{
    /// <summary>What pretrain-vit does; the defaults are also what <c>compare --model vit</c> runs when nothing is cached.</summary>
    public sealed record Settings
    {
        public int Steps { get; init; } = 1000;
        public int BatchSize { get; init; } = 64;
        public float LearningRate { get; init; } = 2e-3f;
        public int TrainExamples { get; init; } = 30_000;
        public int TestExamples { get; init; } = 5000;
        public int Hidden { get; init; } = 64;
        public int Layers { get; init; } = 4;
        public ulong Seed { get; init; } = 42UL;
        public Kernels.Device Device { get; init; } = Kernels.Device.Cpu;
    }

    public static Command Create()
    {
        var d = new Settings();
        var steps = new Option<int>("--steps") { Description = "optimizer steps", DefaultValueFactory = _ => d.Steps };
        var batch = new Option<int>("--batch-size") { Description = "images per step", DefaultValueFactory = _ => d.BatchSize };
        var lr = new Option<float>("--lr") { Description = "peak learning rate", DefaultValueFactory = _ => d.LearningRate };
        var trainExamples = new Option<int>("--train-examples") { Description = "training images (of the five classes' 30,000)",
            DefaultValueFactory = _ => d.TrainExamples };
        var testExamples = new Option<int>("--test-examples") { Description = "test images to score",
            DefaultValueFactory = _ => d.TestExamples };
        var hidden = new Option<int>("--hidden") { Description = "hidden size", DefaultValueFactory = _ => d.Hidden };
        var layers = new Option<int>("--layers") { Description = "encoder layers", DefaultValueFactory = _ => d.Layers };
        var output = new Option<string?>("--output", "-o") { Description = "where to cache the model (default: the cache's "
            + "vit-fashion-mnist-0-4)" };
        var threads = new Option<int>("--threads") { Description = "CPU threads (default: all cores)",
            DefaultValueFactory = _ => Environment.ProcessorCount };
        var seed = new Option<ulong>("--seed") { Description = "seed of init and data order", DefaultValueFactory = _ => d.Seed };
        var device = CommonOptions.DeviceOption();
        var command = new Command("pretrain-vit", "Pretrain a small Vision Transformer on Fashion-MNIST classes 0-4 and cache it for PEFT")
        {
            steps, batch, lr, trainExamples, testExamples, hidden, layers, output, threads, seed, device,
        };
        command.SetAction(r => CliErrors.Run(r, () =>
        {
            CpuParallel.Threads = CommonOptions.Positive(r.GetValue(threads), "--threads");
            Pretrain(new Settings
            {
                Steps = CommonOptions.Positive(r.GetValue(steps), "--steps"),
                BatchSize = CommonOptions.Positive(r.GetValue(batch), "--batch-size"),
                LearningRate = r.GetValue(lr),
                TrainExamples = r.GetValue(trainExamples),
                TestExamples = r.GetValue(testExamples),
                Hidden = r.GetValue(hidden),
                Layers = r.GetValue(layers),
                Seed = r.GetValue(seed),
                Device = CommonOptions.SelectDevice(r, device),
            }, r.GetValue(output) ?? VitCheckpoint.DefaultDirectory());
            return 0;
        }));
        return command;
    }

    /// <summary>Trains, scores on the held-out images of the same classes, caches in <paramref name="dir"/> and prints one table.</summary>
    public static void Pretrain(Settings s, string dir)
    {
        OutputFolder.Check(dir);
        var config = new VitConfig { HiddenSize = s.Hidden, NumLayers = s.Layers, NumHeads = 4, IntermediateSize = 2 * s.Hidden };
        config.Validate();
        var (train, test) = FashionMnistRun.Load(VitCheckpoint.PretrainClasses, s.TrainExamples, s.TestExamples);
        AnsiConsole.MarkupLine($"[bold]finetune pretrain-vit[/]: {train.Count:N0} images of "
            + $"{Markup.Escape(FashionMnistRun.ClassList(VitCheckpoint.PretrainClasses))}; "
            + $"ViT {config.NumLayers}×{config.HiddenSize}, patches {config.PatchSize}×{config.PatchSize}, "
            + $"{ImdbRun.Where(s.Device)}");
        using var model = new VitForImageClassification(config, VitCheckpoint.PretrainClasses.Count, new Generator(s.Seed));
        var classifier = new VitImageClassifier(model);
        var data = new ClassificationData<LabeledImage>(train, null, items => FashionMnist.Collate(items, s.Device));
        using var progress = new ConsoleProgress();
        var report = Engine.Train(classifier, data, new TrainOptions
        {
            Device = s.Device,
            Progress = progress,
            MaxSteps = s.Steps,
            BatchSize = s.BatchSize,
            LearningRate = s.LearningRate,
            WeightDecay = 0.05f,
            WarmupRatio = 0.05f,
            Decay = Nn.Optim.DecayKind.Cosine,
            Seed = s.Seed,
            RunName = "pretrain-vit",
        });
        var clock = Stopwatch.StartNew();
        var eval = Engine.Evaluate(classifier, test, data.Collate, 256, report.Steps);
        VitCheckpoint.Save(model.Vit, dir, FashionMnist.Processor);
        var counts = model.ParameterCounts();
        ResultTable.Print("ViT pretrained on Fashion-MNIST classes 0-4", new[]
        {
            new ResultTable.Row("pretrain-vit", new TrainableReport(counts.Trainable, counts.Total), eval, report,
                clock.Elapsed.TotalSeconds),
        });
        AnsiConsole.MarkupLine($"[grey]cached in {Markup.Escape(dir)}[/]");
    }
}
