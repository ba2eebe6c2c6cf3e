using Finetune.Nn.Optim;

namespace Finetune.Nn.Training;

/// <summary>Everything Engine.Train can be told. Validated before the first step, naming the option and value.</summary>
public sealed record TrainOptions
{
    /// <summary>Passes over the training set; ignored when <see cref="MaxSteps"/> is set.</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>Optimizer steps to take (each of <see cref="GradientAccumulation"/> micro-batches).</summary>
    public int? MaxSteps { get; init; }

    public int BatchSize { get; init; } = 16;
    public int GradientAccumulation { get; init; } = 1;
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.AdamW;
    public float LearningRate { get; init; } = 2e-5f;
    public float WeightDecay { get; init; } = 0.01f;
    public float Beta1 { get; init; } = 0.9f;
    public float Beta2 { get; init; } = 0.999f;
    public float Momentum { get; init; } = 0.9f;

    /// <summary>Warm-up steps; when null, <see cref="WarmupRatio"/> of the total.</summary>
    public int? WarmupSteps { get; init; }
    public float WarmupRatio { get; init; } = 0.06f;
    public DecayKind Decay { get; init; } = DecayKind.Linear;

    /// <summary>Global gradient-norm limit; null turns clipping off.</summary>
    public float? MaxGradNorm { get; init; } = 1f;

    /// <summary>Evaluate on the validation set every N steps (and after the last); 0 only at the end.</summary>
    public int EvalEvery { get; init; }
    public int EvalBatchSize { get; init; } = 32;

    /// <summary>Stop after this many evaluations without a better validation accuracy; null never stops early.</summary>
    public int? EarlyStoppingPatience { get; init; }

    /// <summary>Keep the trainable weights of the best evaluation and restore them at the end.</summary>
    public bool KeepBest { get; init; } = true;

    /// <summary>Save a resumable checkpoint every N steps (0: never) into <see cref="OutputDirectory"/>.</summary>
    public int CheckpointEvery { get; init; }

    /// <summary>Where report.json and checkpoints go; null writes nothing.</summary>
    public string? OutputDirectory { get; init; }

    /// <summary>A checkpoint directory to continue from.</summary>
    public string? ResumeFrom { get; init; }

    /// <summary>Resume even when the checkpoint was written with other settings (the differences are otherwise refused).</summary>
    public bool ForceResume { get; init; }

    /// <summary>
    /// Settings from outside the engine that shape the run (method, rank, sequence length, ...): recorded in every
    /// checkpoint beside the engine's own and compared on resume.
    /// </summary>
    public IReadOnlyDictionary<string, string> RunSettings { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Where to train: the model is moved there before the first step (checkpoints resume onto it from any device) and
    /// batches collated elsewhere are copied there. Null trains where the model's parameters already are.
    /// </summary>
    public Kernels.Device? Device { get; init; }

    /// <summary>Seed of the data order and of dropout.</summary>
    public ulong Seed { get; init; } = 42;

    /// <summary>Receives a report after every step and every evaluation (the CLI's progress bar); null reports nothing.</summary>
    public IProgress<TrainingProgress>? Progress { get; init; }

    /// <summary>A label for the report and plot ("lora r=8", "full").</summary>
    public string RunName { get; init; } = "run";

    internal void Validate(int trainCount)
    {
        static void Positive(string name, long value)
        {
            if (value < 1) throw new ArgumentOutOfRangeException(name, value, $"train options: {name} must be at least 1, got {value}");
        }
        Positive(nameof(BatchSize), BatchSize);
        Positive(nameof(GradientAccumulation), GradientAccumulation);
        Positive(nameof(EvalBatchSize), EvalBatchSize);
        if (MaxSteps is { } ms) Positive(nameof(MaxSteps), ms);
        else Positive(nameof(Epochs), Epochs);
        if (!(LearningRate > 0 && float.IsFinite(LearningRate)))
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "train options: LearningRate must be a positive "
                + $"number, got {LearningRate}");
        if (WeightDecay < 0)
            throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "train options: WeightDecay must be >= 0");
        if (WarmupRatio is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(WarmupRatio), WarmupRatio, "train options: WarmupRatio must be in [0, 1]");
        if (WarmupSteps is < 0)
            throw new ArgumentOutOfRangeException(nameof(WarmupSteps), WarmupSteps, "train options: WarmupSteps must be >= 0");
        if (MaxGradNorm is { } g && !(g > 0))
            throw new ArgumentOutOfRangeException(nameof(MaxGradNorm), g, "train options: MaxGradNorm must be > 0 (or "
                + "null for no clipping)");
        if (EvalEvery < 0) throw new ArgumentOutOfRangeException(nameof(EvalEvery), EvalEvery, "train options: EvalEvery must be >= 0");
        if (CheckpointEvery < 0)
            throw new ArgumentOutOfRangeException(nameof(CheckpointEvery), CheckpointEvery, "train options: CheckpointEvery must be >= 0");
        if (CheckpointEvery > 0 && OutputDirectory is null)
            throw new ArgumentException("train options: CheckpointEvery needs an OutputDirectory to write checkpoints into");
        if (EarlyStoppingPatience is < 1)
            throw new ArgumentOutOfRangeException(nameof(EarlyStoppingPatience), EarlyStoppingPatience,
                "train options: EarlyStoppingPatience must be at least 1");
        if (trainCount < BatchSize * 1L)
            throw new ArgumentException($"train options: BatchSize {BatchSize} is larger than the {trainCount} training examples");
        if (ResumeFrom is not null && !Directory.Exists(ResumeFrom))
            throw new DirectoryNotFoundException($"train options: ResumeFrom '{ResumeFrom}' is not a checkpoint directory");
    }
}
