using System.Globalization;
using System.Text.Json;
using Finetune.Nn.Data;
using Finetune.Nn.IO;

namespace Finetune.Nn.Training;

/// <summary>
/// A resumable training checkpoint: a directory with the trainable weights, the optimizer state and the best
/// weights (safetensors), and trainer_state.json (step, data position, dropout stream offset, history, and the
/// settings of the run that wrote it). The folder is written as a whole and swapped in by rename
/// (<see cref="AtomicDirectory"/>), so a kill never leaves half a checkpoint. Loading checks every field against the
/// run it resumes and every tensor's name and exact shape.
/// </summary>
internal static class Checkpoint
{
    public const string StateFile = "trainer_state.json";
    private const string Weights = "trainable.safetensors", OptimizerFile = "optimizer.safetensors", BestFile = "best.safetensors";

    private static readonly string[] Fields =
    {
        "step", "epoch", "batch", "dropout_offset", "optimizer_steps", "since_best", "optimizer_slots", "best", "losses", "evaluations",
            "run_name",
        "settings",
    };

    private sealed record State(
        int Step, int Epoch, int Batch, ulong DropoutOffset, long OptimizerSteps, int SinceBest, int OptimizerSlots,
        EvalRecord? Best, List<StepRecord> Losses, List<EvalRecord> Evaluations, string RunName, SortedDictionary<string, string> Settings);

    public static void Save<T>(string directory, TrainingRun<T> run, Optim.Optimizer optimizer) => AtomicDirectory.Write(directory, tmp =>
    {
        SafeTensors.Save(Path.Combine(tmp, Weights), run.Parameters.Select(p => KeyValuePair.Create(p.Name, p.Tensor)));
        SafeTensors.Save(Path.Combine(tmp, OptimizerFile), optimizer.StateTensors().Select(s => KeyValuePair.Create(s.Name, s.Tensor)));
        if (run.BestWeights is { } best)
        {
            using var scope = TensorScope.Begin();
            var shapes = run.Parameters.ToDictionary(p => p.Name, p => p.Tensor.Shape.ToArray());
            SafeTensors.Save(Path.Combine(tmp, BestFile), best.Select(kv => KeyValuePair.Create(kv.Key, Tensor.FromArray(kv.Value,
                shapes[kv.Key]))));
        }
        var state = new State(run.StepNumber, run.Position.Epoch, run.Position.Batch, run.Dropout.Offset, optimizer.StepCount,
            run.SinceBest,
            Slots(optimizer), run.Best, run.Losses, run.Evaluations, run.Options.RunName, run.Settings);
        AtomicFile.WriteAllText(Path.Combine(tmp, StateFile), JsonSerializer.Serialize(state, TrainingReport.Json));
    });

    private static int Slots(Optim.Optimizer optimizer) => optimizer is Optim.AdamW ? 2 : 1;

    public static void Load<T>(string directory, TrainingRun<T> run, Optim.Optimizer optimizer)
    {
        AtomicDirectory.Recover(directory);
        var statePath = Path.Combine(directory, StateFile);
        if (!File.Exists(statePath)) throw new FileNotFoundException($"checkpoint {directory}: {StateFile} is missing", statePath);
        var state = ReadState(JsonFields.ReadFile(statePath), run.TotalSteps, run.BatchesPerEpoch, run.Options.GradientAccumulation,
            Slots(optimizer));
        CompareSettings(statePath, state.Settings, run.Settings, run.Options.ForceResume);
        var shapes = run.Parameters.ToDictionary(p => p.Name, p => p.Tensor.Shape.ToArray(), StringComparer.Ordinal);
        using (var scope = TensorScope.Begin())
        {
            var weights = ReadExact(Path.Combine(directory, Weights), shapes, requireAll: true);
            var slotShapes = new Dictionary<string, int[]>(StringComparer.Ordinal);
            foreach (var (name, shape) in shapes)
                for (int i = 0; i < state.OptimizerSlots; i++) slotShapes[$"{name}/{i}"] = shape;
            var optimizerState = ReadExact(Path.Combine(directory, OptimizerFile), slotShapes, requireAll: false);
            var bestPath = Path.Combine(directory, BestFile);
            var bestWeights = File.Exists(bestPath) ? ReadExact(bestPath, shapes, requireAll: true) : null;
            run.RestoreTrainable(weights);
            optimizer.LoadState(optimizerState, state.OptimizerSlots);
            run.BestWeights = bestWeights;
        }
        optimizer.StepCount = state.OptimizerSteps;
        run.StepNumber = state.Step;
        run.Position = new LoaderPosition(state.Epoch, state.Batch);
        run.Dropout.Offset = state.DropoutOffset;
        run.SinceBest = state.SinceBest;
        run.Best = state.Best;
        run.Losses.Clear();
        run.Losses.AddRange(state.Losses);
        run.Evaluations.Clear();
        run.Evaluations.AddRange(state.Evaluations);
    }

    /// <summary>
    /// Reads trainer_state.json and checks each field against the run it resumes: the step within the run's total, the
    /// data position exactly where that many steps leave it, the optimizer's slot count. Also the fuzzing entry point.
    /// </summary>
    internal static void Validate(JsonFields f, int totalSteps, int batchesPerEpoch, int accumulation, int slots) =>
        ReadState(f, totalSteps, batchesPerEpoch, accumulation, slots);

    private static State ReadState(JsonFields f, int totalSteps, int batchesPerEpoch, int accumulation, int slots)
    {
        f.RejectUnknown(Fields);
        int step = f.Int("step", 0, totalSteps);
        int epoch = f.Int("epoch", 0, int.MaxValue);
        int batch = f.Int("batch", 0, batchesPerEpoch);
        long micro = (long)step * accumulation;
        if ((long)epoch * batchesPerEpoch + batch != micro)
        {
            var (e, b) = (micro / batchesPerEpoch, micro % batchesPerEpoch);
            string field = epoch == e ? "batch" : "epoch";
            throw f.Error(field, f.Object[field], $"epoch {e}, batch {b}: where {step} steps of {accumulation} micro-batches leave "
                + $"the data ({batchesPerEpoch} batches per epoch)");
        }
        long optimizerSteps = f.Long("optimizer_steps", step, step);
        int slotCount = f.Int("optimizer_slots", slots, slots);
        var losses = f.Children("losses").Select(ReadStep).ToList();
        var evaluations = f.Children("evaluations").Select(ReadEval).ToList();
        var settings = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (f.Child("settings") is { } s)
            foreach (var (key, _) in s.Object) settings[key] = s.String(key)!;
        return new State(step, epoch, batch, f.ULong("dropout_offset"), optimizerSteps, f.Int("since_best", 0, evaluations.Count),
            slotCount,
            f.Child("best", optional: true) is { } best ? ReadEval(best) : null, losses, evaluations, f.String("run_name")!, settings);
    }

    private static StepRecord ReadStep(JsonFields f)
    {
        f.RejectUnknown("step", "loss", "learning_rate", "grad_norm", "examples_per_second");
        return new StepRecord(f.Int("step", 0, int.MaxValue), f.Float("loss", float.MinValue, float.MaxValue), f.Float("learning_rate", 0,
            float.MaxValue),
            f.Has("grad_norm") ? f.Float("grad_norm", 0, float.MaxValue) : float.NaN, f.Float("examples_per_second", 0, float.MaxValue));
    }

    private static EvalRecord ReadEval(JsonFields f)
    {
        f.RejectUnknown("step", "loss", "accuracy", "examples");
        return new EvalRecord(f.Int("step", 0, int.MaxValue), f.Float("loss", 0, float.MaxValue), f.Float("accuracy", 0, 1),
            f.Int("examples", 1, int.MaxValue));
    }

    private static void CompareSettings(string source, IReadOnlyDictionary<string, string> saved, IReadOnlyDictionary<string, string> now,
        bool force)
    {
        var differences = saved.Keys.Union(now.Keys).Order(StringComparer.Ordinal)
            .Where(k => !saved.TryGetValue(k, out var a) || !now.TryGetValue(k, out var b) || a != b)
            .Select(k => $"{k}: checkpoint {saved.GetValueOrDefault(k, "(none)")}, now {now.GetValueOrDefault(k, "(none)")}")
            .ToList();
        if (differences.Count > 0 && !force)
            throw new ArgumentException($"{source}: the checkpoint was written with other settings, so resuming would not continue the " +
                $"same run " +
                                        $"({string.Join("; ", differences)}); use the checkpoint's settings, or --force to resume anyway");
    }

    /// <summary>Reads a safetensors file whose names must be among <paramref name="shapes"/> with exactly those shapes.</summary>
    private static Dictionary<string, float[]> ReadExact(string path, IReadOnlyDictionary<string, int[]> shapes, bool requireAll)
    {
        var tensors = SafeTensors.Load(path);
        try
        {
            var problems = new List<string>();
            foreach (var (name, t) in tensors)
            {
                if (!shapes.TryGetValue(name, out var shape)) problems.Add($"unexpected tensor '{name}' {t.Describe()}");
                else if (!t.Shape.SequenceEqual(shape) || t.DType != Kernels.DType.Float32)
                    problems.Add($"tensor '{name}' is {t.Describe()}, expected float32 [{string.Join(", ", shape)}]");
            }
            if (requireAll)
                foreach (var (name, shape) in shapes)
                    if (!tensors.ContainsKey(name)) problems.Add($"missing tensor '{name}' [{string.Join(", ", shape)}]");
            if (problems.Count > 0)
                throw new InvalidDataException($"{path}: {string.Join("; ", problems.Take(6))}{(problems.Count > 6 ? $"; and " +
                    $"{problems.Count - 6} more" : "")}");
            return tensors.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray(), StringComparer.Ordinal);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    /// <summary>A setting as the checkpoint records it (invariant culture, round-trippable).</summary>
    internal static string Text(object? value) => value switch
    {
        null => "(none)",
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        IFormattable x => x.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
