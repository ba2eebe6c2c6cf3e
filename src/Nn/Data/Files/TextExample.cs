namespace Finetune.Nn.Data;

/// <summary>
/// One text (or sentence pair) with its class id and the row it came from; the label is −1 for a row read without
/// labels (prediction input), which a loss rejects.
/// </summary>
public sealed record TextExample(string Text, string? Pair, int Label, int Row = 0);
