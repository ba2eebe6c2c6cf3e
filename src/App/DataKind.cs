namespace Finetune.App;

/// <summary>What a user's dataset holds: texts (or sentence pairs) for the BERT encoder, or images for the ViT.</summary>
public enum DataKind
{
    Text,
    Image,
}
