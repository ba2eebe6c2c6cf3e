namespace Finetune.Nn.Training;

/// <summary>
/// What <see cref="Engine.Train"/> reports through <see cref="TrainOptions.Progress"/>: after every optimizer step, and
/// again with <see cref="Evaluation"/> set after every evaluation.
/// </summary>
/// <param name="RunName">The run's label (<see cref="TrainOptions.RunName"/>).</param>
/// <param name="Step">Optimizer steps taken so far.</param>
/// <param name="TotalSteps">Optimizer steps the run will take.</param>
/// <param name="Loss">The last step's mean training loss.</param>
/// <param name="ExamplesPerSecond">Training throughput since the run (or the resume) started.</param>
/// <param name="Elapsed">Wall time since the run (or the resume) started.</param>
/// <param name="Evaluation">The evaluation just finished, or null for a step report.</param>
public sealed record TrainingProgress(
    string RunName,
    int Step,
    int TotalSteps,
    float Loss,
    double ExamplesPerSecond,
    TimeSpan Elapsed,
    EvalRecord? Evaluation = null);
