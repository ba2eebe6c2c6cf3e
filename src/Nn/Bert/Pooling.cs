using Finetune.Kernels;

namespace Finetune.Nn;

public static class Pooling
{
    /// <summary>Mean of <paramref name="hidden"/> [B, T, H] over positions where the float mask [B, T] is 1 → [B, H].</summary>
    public static Tensor Mean(Tensor hidden, Tensor attentionMask)
    {
        ArgumentNullException.ThrowIfNull(hidden);
        ArgumentNullException.ThrowIfNull(attentionMask);
        if (hidden.Rank != 3 || attentionMask.Rank != 2 || attentionMask.Size(0) != hidden.Size(0)
            || attentionMask.Size(1) != hidden.Size(1))
            throw new ArgumentException($"mean pooling: hidden {hidden.Describe()} must be [B, T, H] and the mask "
                + $"{attentionMask.Describe()} [B, T]");
        var m = attentionMask.Unsqueeze(-1);
        // The tiny addend keeps an all-padding row finite and does not change a count of 1 or more.
        return (hidden * m).Sum(1) / m.Sum(1).AddScalar(1e-9f);
    }

    /// <summary>Rows scaled to unit L2 norm (sentence-transformers' Normalize).</summary>
    public static Tensor L2Normalize(Tensor x) => x / (x * x).Sum(-1, keepDim: true).AddScalar(1e-24f).Sqrt();
}
