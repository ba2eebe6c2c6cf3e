using System.Text.Json.Serialization;
using Finetune.Nn.Data;
using Finetune.Nn.Text;

namespace Finetune.App;

/// <summary>
/// How a run read a user's dataset, saved with the run so <c>finetune predict</c> reads its input the same way: the
/// kind of data, the columns, and the tokenizer's length and truncation.
/// </summary>
public sealed record DatasetSettings
{
    public DataKind Kind { get; init; } = DataKind.Text;
    public string TextColumn { get; init; } = "text";
    public string? TextPairColumn { get; init; }
    public string LabelColumn { get; init; } = "label";
    public int MaxLength { get; init; } = 256;
    public TruncationMode Truncation { get; init; } = TruncationMode.HeadAndTail;

    [JsonIgnore]
    public TextColumns Columns => new(TextColumn, TextPairColumn, LabelColumn);
}
