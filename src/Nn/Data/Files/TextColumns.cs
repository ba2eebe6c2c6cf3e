namespace Finetune.Nn.Data;

/// <summary>Which columns of a table hold the text, the optional second text of a pair, and the label.</summary>
public sealed record TextColumns(string Text = "text", string? TextPair = null, string Label = "label");
