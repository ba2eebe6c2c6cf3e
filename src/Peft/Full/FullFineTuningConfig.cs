
namespace Finetune.Peft.Full;

/// <summary>Every base weight trains, except optionally the embeddings and the lowest <see cref="FreezeLayers"/> encoder layers.</summary>
public sealed record FullFineTuningConfig : PeftConfig
{
    public override string PeftType => "FULL";

    /// <summary>Keep <c>embeddings.*</c> frozen.</summary>
    public bool FreezeEmbeddings { get; init; }

    /// <summary>Keep <c>encoder.layer.0</c> … <c>encoder.layer.(n−1)</c> frozen.</summary>
    public int FreezeLayers { get; init; }

    public override void Validate()
    {
        if (FreezeLayers < 0)
            throw new ArgumentOutOfRangeException(nameof(FreezeLayers), FreezeLayers, "full: field 'freeze_layers' must be >= 0");
    }
}
