namespace Finetune.Kernels.Cuda;

/// <summary>
/// GEMM epilogues as cuBLAS GEMM + one elementwise kernel of kernels.cu (the "GEMM epilogues" family): the kernel reads the
/// GEMM's output once and writes the finished activation in place, where the composed ops make a pass per step.
/// </summary>
public sealed partial class CudaBackend : IEpilogueKernels
{
    public void LinearEpilogue(Dense x, Dense weight, Dense? bias, Dense y, int rows, int inFeatures, int outFeatures,
        EpilogueActivation activation, DropoutStream dropout, Dense? residual, Dense? preActivation)
    {
        if (rows == 0 || outFeatures == 0) return;
        Gemm(false, true, rows, outFeatures, inFeatures, 1f, x, inFeatures, 0, weight, inFeatures, 0, 0f, y, outFeatures, 0, 1);
        ulong py = F(y), pb = bias is { } b ? F(b) : 0, pr = residual is { } r ? F(r) : 0, pp = preActivation is { } p ? F(p) : 0;
        long count = (long)rows * outFeatures;
        Launch(KernelId.LinearEpilogue, GridFor(count), new(Threads), k => k.Add(py).Add(pb).Add(pr).Add(pp).Add((long)rows)
            .Add(outFeatures).Add(activation == EpilogueActivation.GeluErf ? 1 : 0).Add(dropout.Seed).Add(dropout.Offset).Add(dropout.P)
            .Add(dropout.KeepScale));
    }

    public void DropoutBackward(Dense gy, Dense gx, long count, DropoutStream dropout)
    {
        if (count == 0) return;
        ulong pgy = F(gy), pgx = F(gx);
        Launch(KernelId.DropoutBackward, GridFor(count), new(Threads), k => k.Add(pgy).Add(pgx).Add(count).Add(dropout.Seed)
            .Add(dropout.Offset).Add(dropout.P).Add(dropout.KeepScale));
    }
}
