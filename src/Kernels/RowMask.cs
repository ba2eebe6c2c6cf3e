namespace Finetune.Kernels;

/// <summary>
/// An additive mask of <paramref name="Rows"/> rows that a softmax broadcasts over its rows: row r of the input takes
/// mask row <c>(r / Divisor) % Rows</c> (BERT's [B, 1, 1, T] padding mask over [B, heads, T, T] scores: Rows = B,
/// Divisor = heads·T).
/// </summary>
public readonly record struct RowMask(Dense Values, int Rows, long Divisor);
