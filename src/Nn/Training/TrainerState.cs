using Finetune.Nn.IO;

namespace Finetune.Nn.Training;

/// <summary>The trainer_state.json of a checkpoint: how it is checked against the run that resumes from it.</summary>
public static class TrainerState
{
    public const string FileName = Checkpoint.StateFile;

    /// <summary>
    /// Checks every field: the step within the run's <paramref name="totalSteps"/>, the data position exactly where that
    /// many steps leave it, the optimizer's slot count, the history records. Throws an <see cref="InvalidDataException"/>
    /// naming the file, the field, its value and what was expected.
    /// </summary>
    public static void Validate(JsonFields state, int totalSteps, int batchesPerEpoch, int gradientAccumulation, int optimizerSlots) =>
        Checkpoint.Validate(state, totalSteps, batchesPerEpoch, gradientAccumulation, optimizerSlots);
}
