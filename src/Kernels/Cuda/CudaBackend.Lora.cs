namespace Finetune.Kernels.Cuda;

/// <summary>The fused LoRA kernels of kernels.cu (the "Fused LoRA" family): cuBLAS does the base GEMM, these the low-rank path.</summary>
public sealed partial class CudaBackend : ILoraKernels
{
    public void LoraDown(Dense x, Dense a, Dense u, int rows, int inFeatures, int rank, DropoutStream dropout)
    {
        if (rows == 0) return;
        ulong px = F(x), pa = F(a), pu = F(u);
        Launch(KernelId.LoraDown, RowGrid(rows), RowBlock(inFeatures), k => k.Add(px).Add(pa).Add(pu).Add((long)rows).Add(inFeatures)
            .Add(rank).Add(dropout.Seed).Add(dropout.Offset).Add(dropout.P).Add(dropout.KeepScale));
    }

    public void LoraUp(Dense u, Dense b, Dense y, int rows, int outFeatures, int rank, float scale)
    {
        if (rows == 0) return;
        ulong pu = F(u), pb = F(b), py = F(y);
        Launch(KernelId.LoraUp, GridFor((long)rows * outFeatures), new(Threads),
            k => k.Add(pu).Add(pb).Add(py).Add((long)rows).Add(outFeatures).Add(rank).Add(scale));
    }

    public void LoraUpBackward(Dense g, Dense u, Dense b, Dense gu, Dense? gb, int rows, int outFeatures, int rank, float scale)
    {
        ulong pg = F(g), pu = F(u), pb = F(b), pgu = F(gu);
        if (rows > 0)
            Launch(KernelId.LoraUpBackwardGu, RowGrid(rows), RowBlock(outFeatures),
                k => k.Add(pg).Add(pb).Add(pgu).Add((long)rows).Add(outFeatures).Add(rank).Add(scale));
        if (gb is not { } d) return;
        ulong pgb = F(d);
        Launch(KernelId.LoraUpBackwardGb, GridFor((long)outFeatures * rank), new(Threads),
            k => k.Add(pg).Add(pu).Add(pgb).Add((long)rows).Add(outFeatures).Add(rank).Add(scale));
    }

    public void LoraDownBackward(Dense x, Dense a, Dense gu, Dense? ga, Dense? gx, int rows, int inFeatures, int rank,
        DropoutStream dropout)
    {
        ulong px = F(x), pa = F(a), pgu = F(gu);
        if (gx is { } dx && rows > 0)
        {
            ulong pgx = F(dx);
            Launch(KernelId.LoraDownBackwardGx, GridFor((long)rows * inFeatures), new(Threads), k => k.Add(pa).Add(pgu).Add(pgx)
                .Add((long)rows).Add(inFeatures).Add(rank).Add(dropout.Seed).Add(dropout.Offset).Add(dropout.P).Add(dropout.KeepScale));
        }
        if (ga is not { } da) return;
        ulong pga = F(da);
        Launch(KernelId.LoraDownBackwardGa, GridFor((long)rank * inFeatures), new(Threads), k => k.Add(px).Add(pgu).Add(pga).Add((long)rows)
            .Add(inFeatures).Add(rank).Add(dropout.Seed).Add(dropout.Offset).Add(dropout.P).Add(dropout.KeepScale));
    }
}
