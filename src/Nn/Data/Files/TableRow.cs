namespace Finetune.Nn.Data;

/// <summary>
/// One record of a table file: its number (from 1, the header not counted), the values in the table's column order
/// (null where the record has no value), and what is wrong with the record as a whole when its structure is broken
/// (a CSV row with extra fields, a JSONL line that is not an object), so a caller can skip it or stop on it. A JSONL
/// row keeps its line (<see cref="Raw"/>) so an output can repeat the record with its original types.
/// </summary>
public sealed record TableRow(int Number, IReadOnlyList<string?> Values, string? Problem = null, string? Raw = null);
