using System.CommandLine;
using System.Diagnostics;
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
    public static Command Create()
    {
        var steps = new Option<int>("--steps") { Description = "optimizer steps", DefaultValueFactory = _ => 1000 };
        var batch = new Option<int>("--batch-size") { Description = "images per step", DefaultValueFactory = _ => 64 };
        var lr = new Option<float>("--lr") { Description = "peak learning rate", DefaultValueFactory = _ => 2e-3f };
        var trainExamples = new Option<int>("--train-examples") { Description = "training images (of the five classes' 30,000)", DefaultValueFactory = _ => 30_000 };
        var testExamples = new Option<int>("--test-examples") { Description = "test images to score", DefaultValueFactory = _ => 5000 };
        var hidden = new Option<int>("--hidden") { Description = "hidden size", DefaultValueFactory = _ => 64 };
        var layers = new Option<int>("--layers") { Description = "encoder layers", DefaultValueFactory = _ => 4 };
        var output = new Option<string?>("--output", "-o") { Description = "where to cache the model (default: the cache's vit-fashion-mnist-0-4)" };
        var threads = new Option<int>("--threads") { Description = "CPU threads (default: all cores)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var seed = new Option<ulong>("--seed") { Description = "seed of init and data order", DefaultValueFactory = _ => 42UL };
        var command = new Command("pretrain-vit", "Pretrain a small Vision Transformer on Fashion-MNIST classes 0-4 and cache it for PEFT")
        {
            steps, batch, lr, trainExamples, testExamples, hidden, layers, output, threads, seed,
        };
        command.SetAction(r => CliErrors.Run(() =>
        {
            CpuParallel.Threads = CommonOptions.Positive(r.GetValue(threads), "--threads");
            var dir = r.GetValue(output) ?? VitCheckpoint.DefaultDirectory();
            var config = new VitConfig { HiddenSize = r.GetValue(hidden), NumLayers = r.GetValue(layers), NumHeads = 4, IntermediateSize = 2 * r.GetValue(hidden) };
            config.Validate();
            var (train, test) = FashionMnistRun.Load(VitCheckpoint.PretrainClasses, r.GetValue(trainExamples), r.GetValue(testExamples));
            AnsiConsole.MarkupLine($"[bold]finetune pretrain-vit[/]: {train.Count:N0} images of {Markup.Escape(FashionMnistRun.ClassList(VitCheckpoint.PretrainClasses))}; " +
                                   $"ViT {config.NumLayers}×{config.HiddenSize}, patches {config.PatchSize}×{config.PatchSize}, {CpuParallel.Threads} threads");
            using var model = new VitForImageClassification(config, VitCheckpoint.PretrainClasses.Count, new Generator(r.GetValue(seed)));
            var classifier = new VitImageClassifier(model);
            var data = new ClassificationData<LabeledImage>(train, null, items => FashionMnist.Collate(items));
            var report = Engine.Train(classifier, data, new TrainOptions
            {
                MaxSteps = CommonOptions.Positive(r.GetValue(steps), "--steps"),
                BatchSize = CommonOptions.Positive(r.GetValue(batch), "--batch-size"),
                LearningRate = r.GetValue(lr),
                WeightDecay = 0.05f,
                WarmupRatio = 0.05f,
                Decay = Nn.Optim.DecayKind.Cosine,
                Seed = r.GetValue(seed),
                RunName = "pretrain-vit",
            });
            var clock = Stopwatch.StartNew();
            var eval = Engine.Evaluate(classifier, test, data.Collate, 256, report.Steps);
            VitCheckpoint.Save(model.Vit, dir);
            var counts = model.ParameterCounts();
            ResultTable.Print("ViT pretrained on Fashion-MNIST classes 0-4", new[]
            {
                new ResultTable.Row("pretrain-vit", new TrainableReport(counts.Trainable, counts.Total), eval, report, clock.Elapsed.TotalSeconds),
            });
            AnsiConsole.MarkupLine($"[grey]cached in {Markup.Escape(dir)}[/]");
            return 0;
        }));
        return command;
    }
}
