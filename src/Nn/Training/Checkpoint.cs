using System.Text.Json;
using Finetune.Nn.Data;
using Finetune.Nn.IO;

namespace Finetune.Nn.Training;

/// <summary>
/// A resumable training checkpoint: a directory with the trainable weights, the optimizer state and the best
/// weights (safetensors), and trainer_state.json (step, data position, dropout stream offset, history).
/// It is written under a temporary name and renamed, so a crash never leaves half a checkpoint.
/// </summary>
internal static class Checkpoint
{
    private const string Weights = "trainable.safetensors", OptimizerFile = "optimizer.safetensors", BestFile = "best.safetensors",
        StateFile = "trainer_state.json";

    private sealed record State(
        int Step, int Epoch, int Batch, ulong DropoutOffset, long OptimizerSteps, int SinceBest, int OptimizerSlots,
        EvalRecord? Best, List<StepRecord> Losses, List<EvalRecord> Evaluations, string RunName);

    public static void Save<T>(string directory, TrainingRun<T> run, Optim.Optimizer optimizer)
    {
        var full = Path.GetFullPath(directory);
        var tmp = full + $".tmp-{Environment.ProcessId}";
        if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        Directory.CreateDirectory(tmp);
        SafeTensors.Save(Path.Combine(tmp, Weights), run.Parameters.Select(p => KeyValuePair.Create(p.Name, p.Tensor)));
        SafeTensors.Save(Path.Combine(tmp, OptimizerFile), optimizer.StateTensors().Select(s => KeyValuePair.Create(s.Name, s.Tensor)));
        if (run.BestWeights is { } best)
        {
            using var scope = TensorScope.Begin();
            SafeTensors.Save(Path.Combine(tmp, BestFile),
                best.Select(kv => KeyValuePair.Create(kv.Key, Tensor.FromArray(kv.Value, kv.Value.Length))));
        }
        var state = new State(run.StepNumber, run.Position.Epoch, run.Position.Batch, run.Dropout.Offset, optimizer.StepCount,
            run.SinceBest, optimizer is Optim.AdamW ? 2 : 1, run.Best, run.Losses, run.Evaluations, run.Options.RunName);
        File.WriteAllText(Path.Combine(tmp, StateFile), JsonSerializer.Serialize(state, TrainingReport.Json));
        if (Directory.Exists(full)) Directory.Delete(full, recursive: true);
        Directory.Move(tmp, full);
    }

    public static void Load<T>(string directory, TrainingRun<T> run, Optim.Optimizer optimizer)
    {
        var statePath = Path.Combine(directory, StateFile);
        if (!File.Exists(statePath)) throw new FileNotFoundException($"checkpoint {directory}: {StateFile} is missing", statePath);
        State state;
        try
        {
            state = JsonSerializer.Deserialize<State>(File.ReadAllText(statePath), TrainingReport.Json)
                ?? throw new InvalidDataException($"checkpoint {statePath}: empty state");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"checkpoint {statePath}: unreadable state ({e.Message})", e);
        }
        using (var scope = TensorScope.Begin())
        {
            run.RestoreTrainable(ToHost(SafeTensors.Load(Path.Combine(directory, Weights))));
            optimizer.LoadState(ToHost(SafeTensors.Load(Path.Combine(directory, OptimizerFile))), state.OptimizerSlots);
            var bestPath = Path.Combine(directory, BestFile);
            run.BestWeights = File.Exists(bestPath) ? ToHost(SafeTensors.Load(bestPath)) : null;
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

    private static Dictionary<string, float[]> ToHost(Dictionary<string, Tensor> tensors) =>
        tensors.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());
}
