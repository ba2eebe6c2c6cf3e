namespace Finetune.Tests.Fuzz;

/// <summary>
/// One file reader under fuzzing: valid seed files, the reader as a SharpFuzz-style entry point (bytes in, throws or
/// returns), and an optional structure-aware mutation. The only exception a reader may let escape is
/// <see cref="InvalidDataException"/> whose message names <see cref="Source"/> (the file).
/// </summary>
public sealed record FuzzTarget(string Name, string Source, IReadOnlyList<byte[]> Seeds, Action<byte[]> Read)
{
    /// <summary>Replaces the generic mutation for formats with a binary frame (safetensors: mutate the JSON header, fix the length).</summary>
    public Func<byte[], Random, byte[]>? Mutate { get; init; }

    /// <summary>The folder of regression inputs under tests/fixtures/fuzz.</summary>
    public string FixtureFolder => Name;
}
