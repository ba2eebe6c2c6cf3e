namespace Finetune.Kernels.Cuda;

/// <summary>
/// Fused attention from kernels.cu (the "Fused attention" family): one warp per tile of 32 rows, each lane one row, so
/// the grid is the (batch·head, row tile) pairs, capped as any grid-stride launch.
/// </summary>
public sealed partial class CudaBackend : IAttentionKernels
{
    private const int AttentionTile = 32;

    private Dim3 AttentionGrid(in AttentionShape s, int length) =>
        GridFor((long)s.Batch * s.Heads * ((length + AttentionTile - 1) / AttentionTile), 1);

    public void AttentionForward(in AttentionShape shape, Dense q, Dense k, Dense v, Dense? mask, Dense o, Dense stats,
        DropoutStream dropout)
    {
        var s = shape;
        ulong pq = F(q), pk = F(k), pv = F(v), pm = mask is { } m ? F(m) : 0, po = F(o), ps = F(stats);
        Launch(KernelId.AttentionForward, AttentionGrid(s, s.QueryLength), new(AttentionTile), a => a.Add(s).Add(pq).Add(pk).Add(pv).Add(pm)
            .Add(po).Add(ps).Add(dropout.Seed).Add(dropout.Offset).Add(dropout.P).Add(dropout.KeepScale));
    }

    public void AttentionBackward(in AttentionShape shape, Dense q, Dense k, Dense v, Dense? mask, Dense o, Dense stats, Dense go,
        Dense rowDot, Dense dq, Dense dk, Dense dv, DropoutStream dropout)
    {
        var s = shape;
        ulong pq = F(q), pk = F(k), pv = F(v), pm = mask is { } m ? F(m) : 0, po = F(o), ps = F(stats), pg = F(go), pr = F(rowDot);
        ulong pdq = F(dq), pdk = F(dk), pdv = F(dv);
        // dQ first: it writes D = rowsum(dO∘O), which the dK/dV kernel reads.
        Launch(KernelId.AttentionBackwardDq, AttentionGrid(s, s.QueryLength), new(AttentionTile), a => a.Add(s).Add(pq).Add(pk).Add(pv)
            .Add(pm).Add(po).Add(ps).Add(pg).Add(pr).Add(pdq).Add(dropout.Seed).Add(dropout.Offset).Add(dropout.P).Add(dropout.KeepScale));
        Launch(KernelId.AttentionBackwardDkDv, AttentionGrid(s, s.KeyLength), new(AttentionTile), a => a.Add(s).Add(pq).Add(pk).Add(pv)
            .Add(pm).Add(ps).Add(pg).Add(pr).Add(pdk).Add(pdv).Add(dropout.Seed).Add(dropout.Offset).Add(dropout.P).Add(dropout.KeepScale));
    }
}
