namespace Finetune.Kernels;

/// <summary>
/// GEMM epilogues a backend may provide beside <see cref="IBackend"/> (a backend without them runs the layers composed):
/// the Transformer's projections with their elementwise tail applied to the GEMM's output before it leaves the cache.
/// For x [rows, in] and W [out, in], z = x·Wᵀ + bias and y = residual + drop(act(z)), each part optional.
/// </summary>
public interface IEpilogueKernels
{
    /// <summary>
    /// y[t, o] = residual[t, o] + drop(act(z[t, o])) with z = Σᵢ x[t, i]·W[o, i] + bias[o]; <paramref name="preActivation"/>, when
    /// given, receives z (what act's backward needs). Dropout element (t, o) is stream element t·out + o.
    /// </summary>
    void LinearEpilogue(Dense x, Dense weight, Dense? bias, Dense y, int rows, int inFeatures, int outFeatures,
        EpilogueActivation activation, DropoutStream dropout, Dense? residual, Dense? preActivation);

    /// <summary>gx[e] = gy[e]·keep-scale(e): dropout's backward with the mask drawn again from the stream, never stored.</summary>
    void DropoutBackward(Dense gy, Dense gx, long count, DropoutStream dropout);
}
