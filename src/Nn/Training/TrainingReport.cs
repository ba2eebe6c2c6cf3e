using System.Text.Json;
using System.Text.Json.Serialization;

namespace Finetune.Nn.Training;

/// <summary>What a run did: per-step losses, evaluations, throughput and memory. Serialises to JSON.</summary>
public sealed record TrainingReport
{
    public string RunName { get; init; } = "run";
    public int Steps { get; init; }
    public int Examples { get; init; }
    public double Seconds { get; init; }
    public double ExamplesPerSecond { get; init; }
    public long PeakMemoryBytes { get; init; }
    public long TrainableParameters { get; init; }
    public long TotalParameters { get; init; }
    public bool StoppedEarly { get; init; }
    public EvalRecord? Best { get; init; }
    public EvalRecord? Final { get; init; }
    public IReadOnlyList<StepRecord> Losses { get; init; } = Array.Empty<StepRecord>();
    public IReadOnlyList<EvalRecord> Evaluations { get; init; } = Array.Empty<EvalRecord>();

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);
}
