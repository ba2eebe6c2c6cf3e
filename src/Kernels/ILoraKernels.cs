namespace Finetune.Kernels;

/// <summary>
/// The fused LoRA kernels a backend may provide beside <see cref="IBackend"/> (a backend without them runs LoRA
/// composed). For x [rows, in], A [rank, in], B [out, rank] and scale s, the layer is
/// y = x·Wᵀ + b + s·(drop(x)·Aᵀ)·Bᵀ; the base GEMM is <see cref="IBackend.Gemm"/>, these kernels do the rest with
/// u = drop(x)·Aᵀ [rows, rank] the only intermediate. Dropout is regenerated from <see cref="DropoutStream"/> in
/// backward, never stored. Element (t, i) of x uses stream element t·in + i.
/// </summary>
public interface ILoraKernels
{
    /// <summary>u[t, j] = Σᵢ drop(x)[t, i]·A[j, i].</summary>
    void LoraDown(Dense x, Dense a, Dense u, int rows, int inFeatures, int rank, DropoutStream dropout);

    /// <summary>y[t, o] += s·Σⱼ u[t, j]·B[o, j], in place: no [rows, out] temporary.</summary>
    void LoraUp(Dense u, Dense b, Dense y, int rows, int outFeatures, int rank, float scale);

    /// <summary>
    /// One pass over the output gradient g [rows, out]: gu[t, j] = s·Σₒ g[t, o]·B[o, j] and, when
    /// <paramref name="gb"/> is given, gB[o, j] = s·Σₜ g[t, o]·u[t, j] (overwritten).
    /// </summary>
    void LoraUpBackward(Dense g, Dense u, Dense b, Dense gu, Dense? gb, int rows, int outFeatures, int rank, float scale);

    /// <summary>
    /// One pass over x with the dropout regenerated: gA[j, i] = Σₜ gu[t, j]·drop(x)[t, i] (overwritten) when
    /// <paramref name="ga"/> is given, and gx[t, i] += mask[t, i]·Σⱼ gu[t, j]·A[j, i] (accumulated onto the base
    /// path's g·W) when <paramref name="gx"/> is given.
    /// </summary>
    void LoraDownBackward(Dense x, Dense a, Dense gu, Dense? ga, Dense? gx, int rows, int inFeatures, int rank, DropoutStream dropout);
}
