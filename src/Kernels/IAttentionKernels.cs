namespace Finetune.Kernels;

/// <summary>
/// Fused scaled-dot-product attention a backend may provide beside <see cref="IBackend"/> (a backend without it runs
/// attention composed). Per (batch, head): O = drop(softmax(scale·Q·Kᵀ + mask))·V with the [Tq, Tk] scores kept in
/// tiles (online softmax), never written; the forward saves only O and two statistics per row, the max m and
/// log Σ exp(z − m) (FlashAttention-2's logsumexp, kept in two parts because m + log Σ rounds to m when m is BERT's −1e9
/// of a fully padded row), and the backward recomputes P = exp((z − m) − log Σ) from them. The additive mask is one row
/// of Tk per batch item (BERT's [B, 1, 1, Tk] padding mask) or null. Dropout of probability (b, h, i, j) is element
/// <see cref="AttentionShape.DropoutIndex"/> of <see cref="DropoutStream"/>, the element the composed dropout over the
/// [B, H, Tq, Tk] probabilities draws, and is drawn again in backward. A row whose every score is −∞ gives zeros
/// (log Σ = +∞, so its gradient is zero too).
/// </summary>
public interface IAttentionKernels
{
    /// <summary>o (packed) and stats [B, H, Tq, 2] (m, log Σ).</summary>
    void AttentionForward(in AttentionShape shape, Dense q, Dense k, Dense v, Dense? mask, Dense o, Dense stats, DropoutStream dropout);

    /// <summary>
    /// dq, dk, dv (packed, overwritten) from the output gradient go; <paramref name="rowDot"/> [B, H, Tq] is scratch that
    /// receives D = rowsum(dO∘O).
    /// </summary>
    void AttentionBackward(in AttentionShape shape, Dense q, Dense k, Dense v, Dense? mask, Dense o, Dense stats, Dense go, Dense rowDot,
        Dense dq, Dense dk, Dense dv, DropoutStream dropout);
}
