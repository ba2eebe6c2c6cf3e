namespace Finetune.Tests.Fuzz;

/// <summary>
/// One file reader under fuzzing: valid seed files, the reader as a SharpFuzz-style entry point (bytes in, throws or
/// returns), and an optional structure-aware mutation. The only exception a reader may let escape is
/// its <see cref="Documented"/> one, whose message names <see cref="Source"/> (the file).
/// </summary>
public sealed record FuzzTarget(string Name, string Source, IReadOnlyList<byte[]> Seeds, Action<byte[]> Read)
{
    /// <summary>Replaces the generic mutation for formats with a binary frame (safetensors: mutate the JSON header, fix the length).</summary>
    public Func<byte[], Random, byte[]>? Mutate { get; init; }

    /// <summary>
    /// The one exception type the reader documents for bad input (its message still starts with <see cref="Source"/>):
    /// <see cref="InvalidDataException"/> for model and config files, DataFileException for a user's dataset files.
    /// </summary>
    public Type Documented { get; init; } = typeof(InvalidDataException);

    /// <summary>False for formats whose checksums make surviving mutants rare (PNG); the test then asks only for refusals.</summary>
    public bool MutantsMaySurvive { get; init; } = true;

    /// <summary>The folder of regression inputs under tests/fixtures/fuzz.</summary>
    public string FixtureFolder => Name;
}
