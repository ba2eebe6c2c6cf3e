using System.Diagnostics;
using Finetune.Kernels;
using Finetune.Nn;
using Finetune.Nn.Data;
using Finetune.Nn.IO;
using Finetune.Nn.Optim;
using Finetune.Nn.Training;

namespace Finetune;

/// <summary>
/// The training entry point: <c>var report = Engine.Train(model, data, options);</c>. Runs each optimizer step
/// inside a <see cref="TensorScope"/>, evaluates, keeps the best weights, checkpoints atomically and resumes
/// exactly (same data order, dropout stream, optimizer state and schedule).
/// </summary>
public static class Engine
{
    public static TrainingReport Train<TExample>(IClassifier model, ClassificationData<TExample> data, TrainOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        options ??= new TrainOptions();
        options.Validate(data.Train.Count);
        if (options.Device is { } device) model.Module.To(device);
        var run = new TrainingRun<TExample>(model, data, options);
        return run.Execute();
    }

    /// <summary>Mean cross-entropy and accuracy over <paramref name="examples"/>, in eval mode without gradients.</summary>
    public static EvalRecord Evaluate<TExample>(IClassifier model, IReadOnlyList<TExample> examples,
        Func<IReadOnlyList<TExample>, Batch> collate, int batchSize = 32, int step = 0)
    {
        if (examples.Count == 0) throw new ArgumentException("evaluate: no examples given");
        double lossSum = 0;
        int correct = 0;
        Prediction.ForEachBatch(model, examples, collate, batchSize, (batch, logits) =>
        {
            lossSum += logits.CrossEntropy(batch.Labels, reduction: Reduction.Sum).Item();
            correct += CountCorrect(logits, batch.Labels);
        });
        return new EvalRecord(step, (float)(lossSum / examples.Count), (float)correct / examples.Count, examples.Count);
    }

    /// <summary>Predicted class per row of logits [B, C].</summary>
    public static int[] Predict(Tensor logits)
    {
        if (logits.Rank != 2) throw new ArgumentException($"predict: logits must be [batch, classes], got {logits.Describe()}");
        var values = logits.ToArray();
        int classes = logits.Size(1);
        var result = new int[logits.Size(0)];
        for (int r = 0; r < result.Length; r++)
        {
            int best = 0;
            for (int c = 1; c < classes; c++)
                if (values[r * classes + c] > values[r * classes + best]) best = c;
            result[r] = best;
        }
        return result;
    }

    private static int CountCorrect(Tensor logits, Tensor labels)
    {
        var predicted = Predict(logits);
        var truth = labels.ToIntArray();
        int correct = 0;
        for (int i = 0; i < truth.Length; i++) if (predicted[i] == truth[i]) correct++;
        return correct;
    }

    internal static IReadOnlyList<T> Slice<T>(IReadOnlyList<T> items, int start, int end)
    {
        var slice = new T[end - start];
        for (int i = start; i < end; i++) slice[i - start] = items[i];
        return slice;
    }

    /// <summary>The device of the model's parameters (the CPU for a model without any).</summary>
    public static Device DeviceOf(Module module) => module.Parameters().FirstOrDefault()?.Device ?? Device.Cpu;

    /// <summary>The memory statistics of the backend that holds the model's parameters.</summary>
    internal static IMemoryStats? MemoryOf(Module module) => Backends.For(DeviceOf(module)) as IMemoryStats;
}

/// <summary>The state of one Engine.Train call.</summary>
internal sealed class TrainingRun<TExample>
{
    private readonly IClassifier _model;
    private readonly ClassificationData<TExample> _data;
    private readonly TrainOptions _options;
    private readonly Generator _dropout;
    private readonly List<NamedParameter> _parameters;
    private readonly DataLoader<TExample> _loader;
    private readonly int _totalSteps;
    private readonly LearningRateSchedule _schedule;
    private readonly List<StepRecord> _losses = new();
    private readonly List<EvalRecord> _evaluations = new();
    private Dictionary<string, float[]>? _bestWeights;
    private EvalRecord? _best;
    private int _sinceBest;
    private int _step;
    private LoaderPosition _position;

    public TrainingRun(IClassifier model, ClassificationData<TExample> data, TrainOptions options)
    {
        _model = model;
        _data = data;
        _options = options;
        _dropout = new Generator(options.Seed ^ 0x5DEECE66DUL);
        // Every dropout draws from the run's own stream, so a checkpoint can restore it.
        foreach (var (_, m) in model.Module.NamedModules())
            if (m is Dropout d) d.Generator = _dropout;
        _parameters = model.Module.NamedParameters().Where(p => p.Value.Trainable)
            .Select(p => new NamedParameter(p.Key, p.Value.Value)).ToList();
        if (_parameters.Count == 0)
            throw new InvalidOperationException("train: the model has no trainable parameters (everything is frozen)");
        _loader = new DataLoader<TExample>(data.Train, options.BatchSize, shuffle: true, seed: options.Seed);
        long micro = options.MaxSteps is { } max ? (long)max * options.GradientAccumulation
            : (long)options.Epochs * _loader.BatchesPerEpoch;
        _totalSteps = (int)Math.Max(1, micro / options.GradientAccumulation);
        int warmup = options.WarmupSteps ?? (int)MathF.Round(options.WarmupRatio * _totalSteps);
        _schedule = new LearningRateSchedule(warmup, _totalSteps, options.Decay);
        Settings = ResumeSettings(options, data.Train.Count);
    }

    /// <summary>What must be equal for a resumed run to continue the run that wrote the checkpoint.</summary>
    private static SortedDictionary<string, string> ResumeSettings(TrainOptions o, int trainCount)
    {
        var s = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["batch_size"] = Checkpoint.Text(o.BatchSize),
            ["gradient_accumulation"] = Checkpoint.Text(o.GradientAccumulation),
            ["seed"] = Checkpoint.Text(o.Seed),
            ["optimizer"] = o.Optimizer.ToString(),
            ["learning_rate"] = Checkpoint.Text(o.LearningRate),
            ["weight_decay"] = Checkpoint.Text(o.WeightDecay),
            ["betas"] = $"{Checkpoint.Text(o.Beta1)},{Checkpoint.Text(o.Beta2)}",
            ["momentum"] = Checkpoint.Text(o.Momentum),
            ["warmup"] = o.WarmupSteps is { } w ? $"{w} steps" : $"ratio {Checkpoint.Text(o.WarmupRatio)}",
            ["decay"] = o.Decay.ToString(),
            ["max_grad_norm"] = Checkpoint.Text(o.MaxGradNorm),
            ["length"] = o.MaxSteps is { } m ? $"{m} steps" : $"{o.Epochs} epochs",
            ["train_examples"] = Checkpoint.Text(trainCount),
            ["run_name"] = o.RunName,
        };
        foreach (var (k, v) in o.RunSettings) s[k] = v;
        return s;
    }

    private Optimizer CreateOptimizer() => _options.Optimizer switch
    {
        OptimizerKind.Sgd => new Sgd(_parameters, _options.LearningRate, _options.Momentum, _options.WeightDecay),
        _ => new AdamW(_parameters, _options.LearningRate, _options.Beta1, _options.Beta2, 1e-8f, _options.WeightDecay),
    };

    public TrainingReport Execute()
    {
        // Folders of saves that a kill interrupted (checkpoint-N.tmp-PID) go now; an interrupted swap gets its old folder back.
        if (_options.OutputDirectory is { } output) AtomicDirectory.RecoverAll(output);
        using var optimizer = CreateOptimizer();
        if (_options.ResumeFrom is { } resume) Checkpoint.Load(resume, this, optimizer);
        var memory = Engine.MemoryOf(_model.Module);
        memory?.ResetPeak();
        var (trainable, total) = _model.Module.ParameterCounts();
        _model.Module.Train();
        var clock = Stopwatch.StartNew();
        int examples = 0;
        bool stoppedEarly = false;
        using var batches = _loader.From(_position).GetEnumerator();
        var device = Engine.DeviceOf(_model.Module);
        while (_step < _totalSteps && !stoppedEarly)
        {
            var stepClock = Stopwatch.StartNew();
            float loss = 0f, gradNorm = float.NaN;
            int stepExamples = 0;
            using (var scope = TensorScope.Begin())
            {
                for (int micro = 0; micro < _options.GradientAccumulation; micro++)
                {
                    batches.MoveNext();
                    var (position, items) = batches.Current;
                    using var microScope = TensorScope.Begin();
                    var batch = _data.Collate(items).To(device);
                    var logits = _model.Logits(batch);
                    var microLoss = logits.CrossEntropy(batch.Labels);
                    float value = microLoss.Item();
                    if (!float.IsFinite(value))
                        throw new TrainingDivergedException(_step + 1, value);
                    (_options.GradientAccumulation == 1 ? microLoss : microLoss * (1f / _options.GradientAccumulation)).Backward();
                    loss += value / _options.GradientAccumulation;
                    stepExamples += items.Count;
                    _position = new LoaderPosition(position.Epoch, position.Batch + 1);
                }
                if (_options.MaxGradNorm is { } maxNorm) gradNorm = GradientClipping.ClipGlobalNorm(_parameters, maxNorm);
                _schedule.Apply(optimizer, _step);
                optimizer.Step();
                optimizer.ZeroGrad();
            }
            _step++;
            examples += stepExamples;
            _losses.Add(new StepRecord(_step, loss, optimizer.LearningRate, gradNorm, stepExamples / stepClock.Elapsed.TotalSeconds));
            var stepReport = new TrainingProgress(
                _options.RunName, _step, _totalSteps, loss, examples / clock.Elapsed.TotalSeconds, clock.Elapsed);
            _options.Progress?.Report(stepReport);

            bool last = _step == _totalSteps;
            if (_data.Validation is { Count: > 0 } && ((_options.EvalEvery > 0 && _step % _options.EvalEvery == 0) || last))
                stoppedEarly = EvaluateAndTrack(stepReport);
            if (_options.CheckpointEvery > 0 && (_step % _options.CheckpointEvery == 0 || last))
                Checkpoint.Save(Path.Combine(_options.OutputDirectory!, $"checkpoint-{_step}"), this, optimizer);
        }
        clock.Stop();
        if (_options.KeepBest && _bestWeights is not null) RestoreTrainable(_bestWeights);
        var report = new TrainingReport
        {
            RunName = _options.RunName,
            Steps = _step,
            Examples = examples,
            Seconds = clock.Elapsed.TotalSeconds,
            ExamplesPerSecond = examples / Math.Max(1e-9, clock.Elapsed.TotalSeconds),
            PeakMemoryBytes = memory?.PeakBytes ?? 0,
            TrainableParameters = trainable,
            TotalParameters = total,
            StoppedEarly = stoppedEarly,
            Best = _best,
            Final = _evaluations.LastOrDefault(),
            Losses = _losses.ToList(),
            Evaluations = _evaluations.ToList(),
        };
        if (_options.OutputDirectory is { } dir) ReportWriter.Write(dir, report);
        return report;
    }

    /// <summary>Evaluates, remembers the best weights, and says whether early stopping triggers.</summary>
    private bool EvaluateAndTrack(TrainingProgress stepReport)
    {
        var eval = Engine.Evaluate(_model, _data.Validation!, _data.Collate, _options.EvalBatchSize, _step);
        _evaluations.Add(eval);
        _options.Progress?.Report(stepReport with { Evaluation = eval });
        if (_best is null || eval.Accuracy > _best.Accuracy)
        {
            _best = eval;
            _sinceBest = 0;
            if (_options.KeepBest) _bestWeights = SnapshotTrainable();
            return false;
        }
        _sinceBest++;
        return _options.EarlyStoppingPatience is { } patience && _sinceBest >= patience;
    }

    internal Dictionary<string, float[]> SnapshotTrainable() => _parameters.ToDictionary(p => p.Name, p => p.Tensor.ToArray());

    internal void RestoreTrainable(IReadOnlyDictionary<string, float[]> weights)
    {
        foreach (var p in _parameters)
        {
            if (!weights.TryGetValue(p.Name, out var values))
                throw new InvalidDataException($"restore: no values for trainable parameter '{p.Name}'");
            if (values.Length != p.Tensor.Count)
                throw new InvalidDataException($"restore: '{p.Name}' has {values.Length} values, the parameter {p.Tensor.Describe()} "
                    + $"needs {p.Tensor.Count}");
            p.Tensor.Backend.CopyFromHost<float>(values, p.Tensor.Dense);
        }
    }

    // What a checkpoint saves, restores and checks.
    internal int TotalSteps => _totalSteps;
    internal int BatchesPerEpoch => _loader.BatchesPerEpoch;
    internal SortedDictionary<string, string> Settings { get; }
    internal IReadOnlyList<NamedParameter> Parameters => _parameters;
    internal TrainOptions Options => _options;
    internal int StepNumber { get => _step; set => _step = value; }
    internal LoaderPosition Position { get => _position; set => _position = value; }
    internal Generator Dropout => _dropout;
    internal List<StepRecord> Losses => _losses;
    internal List<EvalRecord> Evaluations => _evaluations;
    internal EvalRecord? Best { get => _best; set => _best = value; }
    internal int SinceBest { get => _sinceBest; set => _sinceBest = value; }
    internal Dictionary<string, float[]>? BestWeights { get => _bestWeights; set => _bestWeights = value; }
}
