namespace Finetune.Nn;

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
