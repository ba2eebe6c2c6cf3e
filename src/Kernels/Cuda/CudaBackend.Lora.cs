namespace Finetune.Kernels.Cuda;

/// <summary>The fused LoRA kernels of kernels.cu (the "Fused LoRA" family): cuBLAS does the base GEMM, these the low-rank path.</summary>
public sealed partial class CudaBackend : ILoraKernels
{
    /// <summary>Philox on the GPU is cheaper than a trip through memory: the backward draws the dropout again.</summary>
    public bool StoresKeepBits => false;

    public void LoraDown(Dense x, Dense a, Dense u, int rows, int inFeatures, int rank, DropoutStream dropout, Dense? keepBits = null)
    {
        NoKeepBits(keepBits);
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

    public void LoraUpGemm(Dense x, Dense w, Dense u, Dense b, Dense y, int rows, int inFeatures, int outFeatures, int rank, float scale,
        float beta)
    {
        if (rows == 0) return;
        Gemm(false, true, rows, outFeatures, inFeatures, 1f, x, inFeatures, 0, w, inFeatures, 0, beta, y, outFeatures, 0, 1);
        LoraUp(u, b, y, rows, outFeatures, rank, scale);
    }

    public void LoraInputGradGemm(Dense g, Dense w, Dense gu, Dense a, Dense gx, int rows, int inFeatures, int outFeatures, int rank,
        float beta)
    {
        if (rows == 0) return;
        Gemm(false, false, rows, inFeatures, outFeatures, 1f, g, outFeatures, 0, w, inFeatures, 0, beta, gx, inFeatures, 0, 1);
        AddInputGrad(a, gu, gx, rows, inFeatures, rank, DropoutStream.None);
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
        DropoutStream dropout, Dense? keepBits = null)
    {
        NoKeepBits(keepBits);
        ulong px = F(x), pgu = F(gu);
        if (gx is { } dx && rows > 0) AddInputGrad(a, gu, dx, rows, inFeatures, rank, dropout);
        if (ga is not { } da) return;
        ulong pga = F(da);
        Launch(KernelId.LoraDownBackwardGa, GridFor((long)rank * inFeatures), new(Threads), k => k.Add(px).Add(pgu).Add(pga).Add((long)rows)
            .Add(inFeatures).Add(rank).Add(dropout.Seed).Add(dropout.Offset).Add(dropout.P).Add(dropout.KeepScale));
    }

    /// <summary>gx += mask∘(gu·A): the low-rank path's dX term, in place.</summary>
    private void AddInputGrad(Dense a, Dense gu, Dense gx, int rows, int inFeatures, int rank, DropoutStream dropout)
    {
        ulong pa = F(a), pgu = F(gu), pgx = F(gx);
        Launch(KernelId.LoraDownBackwardGx, GridFor((long)rows * inFeatures), new(Threads), k => k.Add(pa).Add(pgu).Add(pgx)
            .Add((long)rows).Add(inFeatures).Add(rank).Add(dropout.Seed).Add(dropout.Offset).Add(dropout.P).Add(dropout.KeepScale));
    }

    public void LoraDownQkv(Dense x, LoraPart[] parts, int rows, int inFeatures)
    {
        CheckParts(parts);
        if (rows == 0) return;
        ulong px = F(x);
        Launch(KernelId.LoraDownQkv, RowGrid(rows), RowBlock(inFeatures), k => AddParts(k.Add(px).Add((long)rows).Add(inFeatures), parts));
    }

    public void LoraDownBackwardQkv(Dense x, LoraPart[] parts, Dense? gx, int rows, int inFeatures)
    {
        CheckParts(parts);
        if (gx is { } dx && rows > 0)
        {
            ulong pgx = F(dx);
            Launch(KernelId.LoraDownBackwardQkvGx, GridFor((long)rows * inFeatures), new(Threads),
                k => AddParts(k.Add(pgx).Add((long)rows).Add(inFeatures), parts));
        }
        foreach (var part in parts)
            if (part.GradA is { } ga) LoraDownBackward(x, part.A, part.U, ga, null, rows, inFeatures, part.Rank, part.Dropout);
    }

    /// <summary>The three part slots of the QKV kernels (A, u or gu, rank, dropout); unused slots have rank 0.</summary>
    private ArgPack AddParts(ArgPack k, LoraPart[] parts)
    {
        for (int i = 0; i < 3; i++)
        {
            if (i >= parts.Length)
            {
                k.Add(0UL).Add(0UL).Add(0).Add(0UL).Add(0UL).Add(0f).Add(1f);
                continue;
            }
            var p = parts[i];
            k.Add(F(p.A)).Add(F(p.U)).Add(p.Rank).Add(p.Dropout.Seed).Add(p.Dropout.Offset).Add(p.Dropout.P).Add(p.Dropout.KeepScale);
        }
        return k;
    }

    private static void CheckParts(LoraPart[] parts)
    {
        if (parts.Length is < 1 or > 3) throw new ArgumentException($"lora_down_qkv: {parts.Length} parts; the kernels take one to three");
        foreach (var p in parts) NoKeepBits(p.KeepBits);
    }

    private static void NoKeepBits(Dense? keepBits)
    {
        if (keepBits is not null)
            throw new NotSupportedException(
                "lora: the CUDA backend draws the dropout again in backward (StoresKeepBits is false); pass no keep bits");
    }
}
