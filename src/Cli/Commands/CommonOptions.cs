using System.CommandLine;
using Finetune.App;
using Finetune.Kernels;
using Finetune.Kernels.Cpu;
using Finetune.Kernels.Cuda;
using Finetune.Nn.Optim;
using Finetune.Nn.Text;
using Finetune.Nn.Training;
using Finetune.Peft;

namespace Finetune.Cli.Commands;

/// <summary>The options train and demo share, and how they become engine settings.</summary>
internal sealed class CommonOptions
{
    public readonly Option<string> Method = new("--method") { Description = MethodHelp, DefaultValueFactory = _ => "lora" };
    public readonly Option<int?> Rank = new("--rank") { Description = "LoRA rank (default 8; at most the adapted layers' width)" };
    public readonly Option<float?> Alpha = new("--alpha") { Description = "LoRA alpha, scale = alpha / rank (default 16)" };
    public readonly Option<string?> Targets = new("--targets") { Description = "LoRA target projections, comma separated (default "
        + "query,value; also key, attention.output.dense, intermediate.dense, output.dense)" };
    public readonly Option<int?> FreezeLayers = new("--freeze-layers") { Description = "full fine-tuning: freeze the embeddings "
        + "and the lowest N layers" };
    public readonly Option<bool> FreezeEmbeddings = new("--freeze-embeddings") { Description = "full fine-tuning: freeze the embeddings" };
    public readonly Option<bool> Unfused = new("--unfused")
    {
        Description = "run LoRA, bottleneck adapters and the encoder's GEMM epilogues as composed ops instead of the fused kernels",
    };
    public readonly Option<bool> UnfusedAttention = new("--unfused-attention")
    {
        Description = "run self-attention as composed ops (scores, softmax, dropout tensors) instead of the fused kernel",
    };
    public readonly Option<int> BatchSize = new("--batch-size") { Description = "examples per step", DefaultValueFactory = _ => 16 };
    public readonly Option<float?> LearningRate = new("--lr") { Description = "peak learning rate (default: the method preset's rate for "
        + "BERT, e.g. 1e-3 for LoRA, 5e-5 for full)" };
    public readonly Option<int> MaxLength = new("--max-length") { Description = "tokens per review (truncation)",
        DefaultValueFactory = _ => 256 };
    public readonly Option<TruncationMode> Truncation = TruncationOption();
    public readonly Option<int> Threads = new("--threads") { Description = "CPU threads (default: all cores)",
        DefaultValueFactory = _ => Environment.ProcessorCount };
    public readonly Option<ulong> Seed = new("--seed") { Description = "seed of init, data order and dropout",
        DefaultValueFactory = _ => 42UL };
    public readonly Option<string?> Output = new("--output", "-o") { Description = "directory for the report, loss plot, "
        + "checkpoints and weights" };
    public readonly Option<string> Device = DeviceOption();

    /// <summary>--device, for every command that computes.</summary>
    public static Option<string> DeviceOption() => new("--device") { Description = DeviceSelection.Help, DefaultValueFactory = _ => "cpu" };

    /// <summary>The device --device names, its backend registered; a CUDA device that cannot be used says why (exit code 2).</summary>
    public static Device SelectDevice(ParseResult r, Option<string> option) => DeviceSelection.Select(r.GetValue(option)!);

    /// <summary>--truncation, for every command that tokenizes reviews: head and tail by default (a review's verdict is often at its
    /// end).</summary>
    public static Option<TruncationMode> TruncationOption() =>
        new("--truncation") { Description = "head | headandtail: which tokens of a long review to keep",
            DefaultValueFactory = _ => TruncationMode.HeadAndTail };

    /// <summary>The registry's presets, for --method help.</summary>
    public static string MethodHelp => "one of: " + string.Join(", ", PeftRegistry.Presets.Select(p => p.Name));

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Method, Rank, Alpha, Targets, FreezeLayers, FreezeEmbeddings, Unfused, UnfusedAttention, BatchSize,
            LearningRate,
            MaxLength, Truncation, Threads, Seed, Output, Device })
            command.Options.Add(o);
    }

    /// <summary>The method and its options, validated: ranges, and every option given must apply to the method.</summary>
    public FineTuneOptions FineTune(ParseResult r)
    {
        var options = new FineTuneOptions
        {
            Method = PeftRegistry.Preset(r.GetValue(Method)!).Name,
            Rank = r.GetValue(Rank),
            Alpha = r.GetValue(Alpha),
            Targets = r.GetValue(Targets)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            FreezeLayers = r.GetValue(FreezeLayers),
            FreezeEmbeddings = r.GetValue(FreezeEmbeddings),
            Unfused = r.GetValue(Unfused),
            UnfusedAttention = r.GetValue(UnfusedAttention),
            Seed = r.GetValue(Seed),
            Device = SelectDevice(r, Device),
        };
        options.Validate();
        // Rank is bounded by the adapted layers (the injection checks every layer; MiniLM's narrowest side is its width).
        int width = Nn.BertConfig.MiniLmL6.HiddenSize;
        if (options.Rank > width)
            throw new ArgumentException($"--rank is {options.Rank}, expected at most {width} (MiniLM's layers are {width} wide)");
        return options;
    }

    /// <summary>The settings a checkpoint records besides the engine's, so --resume refuses a different method or length.</summary>
    public static IReadOnlyDictionary<string, string> RunSettings(FineTuneOptions method, int maxLength, TruncationMode truncation) =>
        new Dictionary<string, string>
        {
            ["method"] = method.Describe(),
            ["targets"] = method.Targets is null ? "(preset)" : string.Join(",", method.Targets),
            ["max_length"] = maxLength.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["truncation"] = truncation.ToString(),
        };

    public TrainOptions Train(ParseResult r, FineTuneOptions method) => new()
    {
        BatchSize = Positive(r.GetValue(BatchSize), "--batch-size"),
        LearningRate = r.GetValue(LearningRate) ?? method.Preset.LearningRate(ModelFamily.Bert),
        WeightDecay = 0.01f,
        WarmupRatio = 0.06f,
        Decay = DecayKind.Linear,
        Seed = r.GetValue(Seed),
        OutputDirectory = r.GetValue(Output),
        RunName = method.Describe(),
        Device = method.Device,
    };

    public void ApplyThreads(ParseResult r) => CpuParallel.Threads = Positive(r.GetValue(Threads), "--threads");

    public int MaxTokens(ParseResult r) => ValidMaxLength(r.GetValue(MaxLength));

    public static int ValidMaxLength(int n) =>
        n is >= 8 and <= 512 ? n : throw new ArgumentOutOfRangeException("--max-length", n, "--max-length must be between 8 and 512 "
            + $"(MiniLM's position table), got {n}");

    public static int Positive(int value, string name) =>
        value >= 1 ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be at least 1, got {value}");
}
