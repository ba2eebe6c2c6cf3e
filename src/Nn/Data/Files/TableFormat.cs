namespace Finetune.Nn.Data;

/// <summary>The kinds of table file read and written.</summary>
public enum TableFormat
{
    /// <summary>Plain text, one record per line.</summary>
    Lines,
    Csv,
    Tsv,
    Jsonl,
    Parquet,
}
