namespace Finetune.Kernels;

/// <summary>
/// The fused LoRA kernels a backend may provide beside <see cref="IBackend"/> (a backend without them runs LoRA
/// composed). For x [rows, in], A [rank, in], B [out, rank] and scale s, the layer is
/// y = x·Wᵀ + b + s·(drop(x)·Aᵀ)·Bᵀ; the base GEMMs carry the low-rank products (<see cref="LoraUpGemm"/>,
/// <see cref="LoraInputGradGemm"/>), these kernels do the rest with u = drop(x)·Aᵀ [rows, rank] the only intermediate.
/// Dropout is drawn from <see cref="DropoutStream"/> inside the kernels, never stored as floats: backward draws it again,
/// or reads the keep bits the forward wrote where <see cref="StoresKeepBits"/>. Element (t, i) of x uses stream element
/// t·in + i.
/// </summary>
public interface ILoraKernels
{
    /// <summary>
    /// True when <see cref="LoraDown"/> can write the dropout's keep bits and the backward kernels read them, which is
    /// cheaper here than drawing the Philox stream again (1 bit per element of x: row t at byte t·⌈in/8⌉, element i at
    /// bit i % 8 of byte i / 8). False: the backward draws the dropout again and the bits are never passed.
    /// </summary>
    bool StoresKeepBits { get; }

    /// <summary>u[t, j] = Σᵢ drop(x)[t, i]·A[j, i]; writes the keep bits too when <paramref name="keepBits"/> is given.</summary>
    void LoraDown(Dense x, Dense a, Dense u, int rows, int inFeatures, int rank, DropoutStream dropout, Dense? keepBits = null);

    /// <summary>y[t, o] += s·Σⱼ u[t, j]·B[o, j], in place: no [rows, out] temporary.</summary>
    void LoraUp(Dense u, Dense b, Dense y, int rows, int outFeatures, int rank, float scale);

    /// <summary>
    /// The forward's base GEMM carrying the low-rank product: y = x·Wᵀ + beta·y + s·u·Bᵀ for W [out, in] and u from
    /// <see cref="LoraDown"/> (beta 1 keeps a bias already in y, 0 overwrites y). The CPU runs it as one GEMM over the
    /// concatenated inner dimension, [x | u]·[W | s·B]ᵀ, so y is written once; CUDA as the base GEMM and <see cref="LoraUp"/>.
    /// </summary>
    void LoraUpGemm(Dense x, Dense w, Dense u, Dense b, Dense y, int rows, int inFeatures, int outFeatures, int rank, float scale,
        float beta);

    /// <summary>
    /// The backward's dX GEMM carrying the low-rank term where the layer has no dropout: gx = g·W + beta·gx + gu·A with
    /// gu = s·g·B from <see cref="LoraUpBackward"/> (with dropout the term needs the mask: <see cref="LoraDownBackward"/>
    /// adds it). The CPU runs it as one GEMM, [g | gu]·[W ; A]; CUDA as the base GEMM and the dX kernel of the low-rank path.
    /// </summary>
    void LoraInputGradGemm(Dense g, Dense w, Dense gu, Dense a, Dense gx, int rows, int inFeatures, int outFeatures, int rank,
        float beta);

    /// <summary>
    /// One pass over the output gradient g [rows, out]: gu[t, j] = s·Σₒ g[t, o]·B[o, j] and, when
    /// <paramref name="gb"/> is given, gB[o, j] = s·Σₜ g[t, o]·u[t, j] (overwritten).
    /// </summary>
    void LoraUpBackward(Dense g, Dense u, Dense b, Dense gu, Dense? gb, int rows, int outFeatures, int rank, float scale);

    /// <summary>
    /// One pass over x with the dropout regenerated (or read from <paramref name="keepBits"/>): gA[j, i] = Σₜ gu[t, j]·drop(x)[t, i]
    /// (overwritten) when <paramref name="ga"/> is given, and gx[t, i] += mask[t, i]·Σⱼ gu[t, j]·A[j, i] (accumulated onto
    /// the base path's g·W) when <paramref name="gx"/> is given.
    /// </summary>
    void LoraDownBackward(Dense x, Dense a, Dense gu, Dense? ga, Dense? gx, int rows, int inFeatures, int rank, DropoutStream dropout,
        Dense? keepBits = null);

    /// <summary>
    /// <see cref="LoraDown"/> for up to three adapters of one input (query, key, value) in one pass over x: each part's
    /// u = drop_p(x)·A_pᵀ with its own dropout stream, so the result equals three <see cref="LoraDown"/> calls.
    /// </summary>
    void LoraDownQkv(Dense x, LoraPart[] parts, int rows, int inFeatures);

    /// <summary>
    /// <see cref="LoraDownBackward"/> for up to three adapters of one input in one pass over x: each part's gA (when
    /// given) from its gu (the part's U), and gx[t, i] += Σ_p mask_p[t, i]·Σⱼ gu_p[t, j]·A_p[j, i] when
    /// <paramref name="gx"/> is given.
    /// </summary>
    void LoraDownBackwardQkv(Dense x, LoraPart[] parts, Dense? gx, int rows, int inFeatures);
}
