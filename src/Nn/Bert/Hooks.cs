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

/// <summary>Learned tokens spliced into the sequence (prompt tuning, VPT).</summary>
public interface IPromptTokens
{
    /// <summary>Tokens per layer.</summary>
    int Length { get; }

    /// <summary>1: inserted once before the first layer (shallow); the layer count: replaced before every layer (deep).</summary>
    int Depth { get; }

    /// <summary>The tokens for <paramref name="layer"/> as [batch, Length, hidden].</summary>
    Tensor Tokens(int layer, int batch);
}

/// <summary>Learned key and value rows prepended to one self-attention's keys and values (prefix tuning).</summary>
public interface IKeyValuePrefix
{
    int Length { get; }

    /// <summary>Keys and values, each [batch, Length, hidden] (before the split into heads).</summary>
    (Tensor Keys, Tensor Values) KeysAndValues(int batch);
}

/// <summary>A module applied to a sublayer's output before the residual sum (bottleneck adapters).</summary>
public interface ISublayerAdapter
{
    /// <summary>The new sublayer output from the sublayer's input and its output, both [B, T, hidden].</summary>
    Tensor Forward(Tensor sublayerInput, Tensor sublayerOutput);
}
