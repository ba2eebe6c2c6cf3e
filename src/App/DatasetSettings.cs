using System.Text.Json.Serialization;
using Finetune.Nn;
using Finetune.Nn.Data;
using Finetune.Nn.IO;
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

    /// <summary>Reads the <c>Data</c> object of finetune_run.json; errors name the file, the field and the value.</summary>
    public static DatasetSettings FromJson(JsonFields f)
    {
        f.RejectUnknown(nameof(Kind), nameof(TextColumn), nameof(TextPairColumn), nameof(LabelColumn), nameof(MaxLength),
            nameof(Truncation));
        return new DatasetSettings
        {
            Kind = f.Enum<DataKind>(nameof(Kind), DataKind.Text),
            TextColumn = f.String(nameof(TextColumn), fallback: "text")!,
            TextPairColumn = f.String(nameof(TextPairColumn), optional: true),
            LabelColumn = f.String(nameof(LabelColumn), fallback: "label")!,
            MaxLength = f.Int(nameof(MaxLength), 1, BertConfig.MaxWidth, 256),
            Truncation = f.Enum<TruncationMode>(nameof(Truncation), TruncationMode.HeadAndTail),
        };
    }
}
