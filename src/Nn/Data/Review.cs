
namespace Finetune.Nn.Data;

/// <summary>One movie review: its text (HTML line breaks removed) and its sentiment (1 positive, 0 negative).</summary>
public sealed record Review(string Text, int Label);
