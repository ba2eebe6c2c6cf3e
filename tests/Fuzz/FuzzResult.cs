namespace Finetune.Tests.Fuzz;

/// <summary>What one fuzzing run of a reader did.</summary>
public sealed record FuzzResult(string Target, int Mutants, int Accepted, int Rejected, TimeSpan Elapsed, IReadOnlyList<FuzzFailure> Failures);
