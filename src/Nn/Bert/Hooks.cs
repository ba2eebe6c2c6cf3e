namespace Finetune.Nn;

/// <summary>
/// Optional children that the encoders look for by name at forward time, so a PEFT method plugs in by
/// <see cref="Module.AddChild{T}"/> without the model knowing the method. Absent hooks leave the forward unchanged.
/// </summary>
public static class Hooks
{
    /// <summary>On <see cref="BertEmbeddings"/> or a ViT model: an <see cref="IPromptTokens"/>.</summary>
    public const string Prompt = "prompt";

    /// <summary>On <see cref="BertSelfAttention"/>: an <see cref="IKeyValuePrefix"/>.</summary>
    public const string Prefix = "prefix";

    /// <summary>On <see cref="BertLayer"/>: an <see cref="ISublayerAdapter"/> on the attention sublayer's output.</summary>
    public const string AttentionAdapter = "attention_adapter";

    /// <summary>On <see cref="BertLayer"/>: an <see cref="ISublayerAdapter"/> on the feed-forward sublayer's output.</summary>
    public const string OutputAdapter = "output_adapter";
}
