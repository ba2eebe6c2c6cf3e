using System.Diagnostics;

namespace Finetune.Kernels.Profiling;

/// <summary>Times each kernel of an inner backend and reports its FLOPs and bytes moved to the active profiler.</summary>
internal sealed class ProfilingBackend(IBackend inner, KernelProfiler profiler) : IBackend, ILoraKernels, IEpilogueKernels,
    IAttentionKernels
{
    private const double F = 4; // bytes per float32

    public Device Device => inner.Device;
    public string Name => inner.Name;
    public DeviceBuffer Allocate(long bytes) => inner.Allocate(bytes);
    public void Free(DeviceBuffer buffer) => inner.Free(buffer);
    public void Synchronize() => inner.Synchronize();

    private void Time(string kernel, string shape, double flops, double bytes, Action run)
    {
        long start = Stopwatch.GetTimestamp();
        run();
        profiler.Record(kernel, shape, flops, bytes, start, inner);
    }

    public void CopyFromHost<T>(ReadOnlySpan<T> source, Dense destination) where T : unmanaged
    {
        long start = Stopwatch.GetTimestamp();
        inner.CopyFromHost(source, destination);
        profiler.Record("copy_h2d", $"{source.Length}", 0, source.Length * (double)System.Runtime.CompilerServices.Unsafe.SizeOf<T>(),
            start, inner);
    }

    public void CopyToHost<T>(Dense source, Span<T> destination) where T : unmanaged
    {
        long start = Stopwatch.GetTimestamp();
        inner.CopyToHost(source, destination);
        profiler.Record("copy_d2h", $"{destination.Length}", 0,
            destination.Length * (double)System.Runtime.CompilerServices.Unsafe.SizeOf<T>(), start, inner);
    }

    public void Fill(Dense destination, long count, float value) =>
        Time("fill", $"{count}", 0, count * F, () => inner.Fill(destination, count, value));

    public void Copy(DType dtype, Strided source, Strided destination) =>
        Time("copy_strided", source.Layout.ToString(), 0, 2 * source.Layout.Count * dtype.SizeOf(),
            () => inner.Copy(dtype, source, destination));

    public void Unary(UnaryOp op, float arg, Dense x, Dense y, long count) =>
        Time(op.ToString().ToLowerInvariant(), $"{count}", count, 2 * count * F, () => inner.Unary(op, arg, x, y, count));

    public void UnaryBackward(UnaryOp op, float arg, Dense x, Dense y, Dense gy, Dense gx, long count) =>
        Time(op.ToString().ToLowerInvariant() + "_backward", $"{count}", 2 * count, 4 * count * F,
            () => inner.UnaryBackward(op, arg, x, y, gy, gx, count));

    public void Binary(BinaryOp op, Strided a, Strided b, Strided c) =>
        Time(op.ToString().ToLowerInvariant(), $"{a.Layout}·{b.Layout}", c.Layout.Count, 3 * c.Layout.Count * F,
            () => inner.Binary(op, a, b, c));

    public void Where(Strided condition, Strided a, Strided b, Strided output) =>
        Time("where", output.Layout.ToString(), output.Layout.Count, 4 * output.Layout.Count * F,
            () => inner.Where(condition, a, b, output));

    public void Reduce(ReduceOp op, Dense x, Dense y, int outer, int extent, int inner_) =>
        Time("reduce_" + op.ToString().ToLowerInvariant(), $"[{outer}, {extent}, {inner_}]", (double)outer * extent * inner_,
            ((double)outer * extent * inner_ + (double)outer * inner_) * F, () => inner.Reduce(op, x, y, outer, extent, inner_));

    public void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, Dense a, int lda, long strideA,
        Dense b, int ldb, long strideB,
        float beta, Dense c, int ldc, long strideC, int batch) =>
        Time("gemm" + (transA ? "_tA" : "") + (transB ? "_tB" : ""), $"{batch}×[{m}×{k}]·[{k}×{n}]", 2.0 * batch * m * n * k,
            (double)batch * ((double)m * k + (double)k * n + 2.0 * m * n) * F,
            () => inner.Gemm(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch));

    public void Softmax(bool log, Dense x, Dense y, int rows, int cols, float scale = 1f, RowMask? mask = null) =>
        Time((log ? "log_softmax" : "softmax") + (scale != 1f ? " scaled" : "") + (mask is null ? "" : " masked"), $"[{rows}, {cols}]",
            (scale == 1f && mask is null ? 5.0 : 7.0) * rows * cols, (2.0 * rows * cols + (mask is { } m ? (double)m.Rows * cols : 0)) * F,
            () => inner.Softmax(log, x, y, rows, cols, scale, mask));

    public void SoftmaxBackward(bool log, Dense y, Dense gy, Dense gx, int rows, int cols, float scale = 1f) =>
        Time(log ? "log_softmax_backward" : "softmax_backward", $"[{rows}, {cols}]",
            (scale == 1f ? 4.0 : 5.0) * rows * cols, 3.0 * rows * cols * F,
            () => inner.SoftmaxBackward(log, y, gy, gx, rows, cols, scale));

    public void LayerNorm(Dense x, Dense weight, Dense bias, Dense y, Dense mean, Dense rstd, int rows, int cols, float eps) =>
        Time("layer_norm", $"[{rows}, {cols}]", 8.0 * rows * cols, 2.0 * rows * cols * F,
            () => inner.LayerNorm(x, weight, bias, y, mean, rstd, rows, cols, eps));

    public void LayerNormBackward(Dense x, Dense weight, Dense mean, Dense rstd, Dense gy, Dense gx, Dense gw, Dense gb, int rows,
        int cols) =>
        Time("layer_norm_backward", $"[{rows}, {cols}]", 12.0 * rows * cols, 3.0 * rows * cols * F,
            () => inner.LayerNormBackward(x, weight, mean, rstd, gy, gx, gw, gb, rows, cols));

    public void Gather(Dense table, int tableRows, int cols, Dense ids, long count, Dense output) =>
        Time("gather", $"{count}×{cols}", 0, 2.0 * count * cols * F, () => inner.Gather(table, tableRows, cols, ids, count, output));

    public void ScatterAdd(Dense gOut, Dense ids, long count, int cols, Dense gTable, int tableRows) =>
        Time("scatter_add", $"{count}×{cols}", (double)count * cols, 3.0 * count * cols * F,
            () => inner.ScatterAdd(gOut, ids, count, cols, gTable, tableRows));

    public void NllLoss(Dense logProbs, Dense targets, int rows, int classes, int ignoreIndex, Dense loss, Dense weight) =>
        Time("nll_loss", $"[{rows}, {classes}]", rows, 4.0 * rows * F,
            () => inner.NllLoss(logProbs, targets, rows, classes, ignoreIndex, loss, weight));

    public void NllLossBackward(Dense gLoss, Dense targets, int rows, int classes, int ignoreIndex, Dense gLogProbs) =>
        Time("nll_loss_backward", $"[{rows}, {classes}]", rows, (double)rows * classes * F,
            () => inner.NllLossBackward(gLoss, targets, rows, classes, ignoreIndex, gLogProbs));

    public void AdamW(Dense param, Dense grad, Dense m, Dense v, long count, AdamWStep step) =>
        Time("adamw", $"{count}", 12.0 * count, 7.0 * count * F, () => inner.AdamW(param, grad, m, v, count, step));

    public void RandomUniform(ulong seed, ulong offset, long count, float low, float high, Dense output) =>
        Time("random_uniform", $"{count}", 0, count * F, () => inner.RandomUniform(seed, offset, count, low, high, output));

    public void RandomNormal(ulong seed, ulong offset, long count, float mean, float std, Dense output) =>
        Time("random_normal", $"{count}", 0, count * F, () => inner.RandomNormal(seed, offset, count, mean, std, output));

    private ILoraKernels Lora => inner as ILoraKernels
        ?? throw new NotSupportedException($"lora: the {inner.Name} backend has no fused LoRA kernels");

    // Dropout costs about 14 flops per element (a Philox block is ~40 integer ops for four elements).
    private static double DropoutFlops(DropoutStream d, double elements) => d.Active ? 14 * elements : 0;

    public bool StoresKeepBits => inner is ILoraKernels { StoresKeepBits: true };

    public void LoraDown(Dense x, Dense a, Dense u, int rows, int inFeatures, int rank, DropoutStream dropout, Dense? keepBits = null) =>
        Time("lora_down", $"[{rows}×{inFeatures}]·[{inFeatures}×{rank}]" + (dropout.Active ? " drop" : ""),
            2.0 * rows * inFeatures * rank + DropoutFlops(dropout, (double)rows * inFeatures),
            ((double)rows * inFeatures + (double)rank * inFeatures + (double)rows * rank) * F + BitBytes(keepBits, rows, inFeatures),
            () => Lora.LoraDown(x, a, u, rows, inFeatures, rank, dropout, keepBits));

    public void LoraUp(Dense u, Dense b, Dense y, int rows, int outFeatures, int rank, float scale) =>
        Time("lora_up", $"[{rows}×{rank}]·[{rank}×{outFeatures}]", 2.0 * rows * outFeatures * rank,
            ((double)rows * rank + (double)rank * outFeatures + 2.0 * rows * outFeatures) * F,
            () => Lora.LoraUp(u, b, y, rows, outFeatures, rank, scale));

    /// <summary>The base GEMM that carries a low-rank segment (CPU: one GEMM over k + rank) is named after both.</summary>
    public void LoraUpGemm(Dense x, Dense w, Dense u, Dense b, Dense y, int rows, int inFeatures, int outFeatures, int rank, float scale,
        float beta) =>
        Time("gemm_lora_up", $"[{rows}×{inFeatures}+{rank}]·[{inFeatures}+{rank}×{outFeatures}]",
            2.0 * rows * outFeatures * (inFeatures + rank), GemmBytes(rows, outFeatures, inFeatures + rank, beta),
            () => Lora.LoraUpGemm(x, w, u, b, y, rows, inFeatures, outFeatures, rank, scale, beta));

    public void LoraInputGradGemm(Dense g, Dense w, Dense gu, Dense a, Dense gx, int rows, int inFeatures, int outFeatures, int rank,
        float beta) =>
        Time("gemm_lora_dx", $"[{rows}×{outFeatures}+{rank}]·[{outFeatures}+{rank}×{inFeatures}]",
            2.0 * rows * inFeatures * (outFeatures + rank), GemmBytes(rows, inFeatures, outFeatures + rank, beta),
            () => Lora.LoraInputGradGemm(g, w, gu, a, gx, rows, inFeatures, outFeatures, rank, beta));

    private static double GemmBytes(int m, int n, int k, float beta) =>
        ((double)m * k + (double)k * n + (beta == 0f ? 1.0 : 2.0) * m * n) * F;

    public void LoraUpBackward(Dense g, Dense u, Dense b, Dense gu, Dense? gb, int rows, int outFeatures, int rank, float scale) =>
        Time("lora_up_backward", $"[{rows}×{outFeatures}] r{rank}", (gb is null ? 2.0 : 4.0) * rows * outFeatures * rank,
            ((double)rows * outFeatures + 2.0 * rows * rank + (gb is null ? 1.0 : 2.0) * rank * outFeatures) * F,
            () => Lora.LoraUpBackward(g, u, b, gu, gb, rows, outFeatures, rank, scale));

    public void LoraDownBackward(Dense x, Dense a, Dense gu, Dense? ga, Dense? gx, int rows, int inFeatures, int rank,
        DropoutStream dropout, Dense? keepBits = null) =>
        Time("lora_down_backward", $"[{rows}×{inFeatures}] r{rank}" + (dropout.Active ? keepBits is null ? " drop" : " bits" : ""),
            DownBackwardFlops(rows, inFeatures, rank, ga is not null, gx is not null, dropout, keepBits),
            DownBackwardBytes(rows, inFeatures, rank, ga is not null, keepBits) + (gx is null ? 0.0 : 2.0 * rows * inFeatures * F),
            () => Lora.LoraDownBackward(x, a, gu, ga, gx, rows, inFeatures, rank, dropout, keepBits));

    public void LoraDownQkv(Dense x, LoraPart[] parts, int rows, int inFeatures) =>
        Time("lora_down_qkv",
            $"[{rows}×{inFeatures}] r{string.Join("+", parts.Select(p => p.Rank))}" + (parts.Any(p => p.Dropout.Active) ? " drop" : ""),
            parts.Sum(p => 2.0 * rows * inFeatures * p.Rank + DropoutFlops(p.Dropout, (double)rows * inFeatures)),
            (double)rows * inFeatures * F
                + parts.Sum(p => ((double)p.Rank * inFeatures + (double)rows * p.Rank) * F + BitBytes(p.KeepBits, rows, inFeatures)),
            () => Lora.LoraDownQkv(x, parts, rows, inFeatures));

    public void LoraDownBackwardQkv(Dense x, LoraPart[] parts, Dense? gx, int rows, int inFeatures) =>
        Time("lora_down_backward_qkv", $"[{rows}×{inFeatures}] r{string.Join("+", parts.Select(p => p.Rank))}",
            parts.Sum(p => DownBackwardFlops(rows, inFeatures, p.Rank, p.GradA is not null, gx is not null, p.Dropout, p.KeepBits)),
            (double)rows * inFeatures * F + (gx is null ? 0.0 : 2.0 * rows * inFeatures * F)
                + parts.Sum(p => DownBackwardBytes(rows, inFeatures, p.Rank, false, p.KeepBits)),
            () => Lora.LoraDownBackwardQkv(x, parts, gx, rows, inFeatures));

    private static double BitBytes(Dense? keepBits, int rows, int inFeatures) => keepBits is null ? 0 : rows * ((inFeatures + 7) / 8.0);

    // The dropout is drawn again unless the forward's keep bits are read.
    private static double DownBackwardFlops(int rows, int inFeatures, int rank, bool ga, bool gx, DropoutStream dropout, Dense? keepBits) =>
        ((ga ? 2.0 : 0.0) + (gx ? 2.0 : 0.0)) * rows * inFeatures * rank
            + (keepBits is null ? DropoutFlops(dropout, (double)rows * inFeatures) : 0);

    private static double DownBackwardBytes(int rows, int inFeatures, int rank, bool readsX, Dense? keepBits) =>
        ((readsX ? (double)rows * inFeatures : 0.0) + (double)rows * rank + 2.0 * rank * inFeatures) * F
            + BitBytes(keepBits, rows, inFeatures);

    private IEpilogueKernels Epilogues => inner as IEpilogueKernels
        ?? throw new NotSupportedException($"linear_epilogue: the {inner.Name} backend has no GEMM epilogue kernels");

    /// <summary>Named by what the epilogue does (gemm_bias_gelu, gemm_bias_dropout_residual, ...): a profile shows the fused path
    /// ran.</summary>
    public void LinearEpilogue(Dense x, Dense weight, Dense? bias, Dense y, int rows, int inFeatures, int outFeatures,
        EpilogueActivation activation, DropoutStream dropout, Dense? residual, Dense? preActivation) =>
        Time(EpilogueName(bias is not null, activation, dropout, residual is not null),
            $"[{rows}×{inFeatures}]·[{inFeatures}×{outFeatures}]",
            2.0 * rows * inFeatures * outFeatures + (activation == EpilogueActivation.GeluErf ? 20.0 : 2.0) * rows * outFeatures
                + DropoutFlops(dropout, (double)rows * outFeatures),
            ((double)rows * inFeatures + (double)outFeatures * inFeatures
                + (1.0 + (residual is null ? 0 : 1) + (preActivation is null ? 0 : 1)) * rows * outFeatures) * F,
            () => Epilogues.LinearEpilogue(x, weight, bias, y, rows, inFeatures, outFeatures, activation, dropout, residual,
                preActivation));

    public void DropoutBackward(Dense gy, Dense gx, long count, DropoutStream dropout) =>
        Time("dropout_backward", $"{count}", count + DropoutFlops(dropout, count), 2.0 * count * F,
            () => Epilogues.DropoutBackward(gy, gx, count, dropout));

    internal static string EpilogueName(bool bias, EpilogueActivation activation, DropoutStream dropout, bool residual) =>
        "gemm" + (bias ? "_bias" : "") + (activation == EpilogueActivation.GeluErf ? "_gelu" : "") + (dropout.Active ? "_dropout" : "")
            + (residual ? "_residual" : "");

    private IAttentionKernels Attention => inner as IAttentionKernels
        ?? throw new NotSupportedException($"attention: the {inner.Name} backend has no fused attention kernels");

    private static string AttentionShapeText(in AttentionShape s, DropoutStream d) =>
        $"[{s.Batch}×{s.Heads}] {s.QueryLength}×{s.KeyLength}·d{s.HeadDim}" + (d.Active ? " drop" : "");

    // Bytes: Q, K, V and the output once each (the point of the fusion: no [Tq, Tk] tensor goes through memory).
    public void AttentionForward(in AttentionShape shape, Dense q, Dense k, Dense v, Dense? mask, Dense o, Dense stats,
        DropoutStream dropout)
    {
        var s = shape;
        double scores = s.Probabilities, rows = (double)s.Batch * s.Heads * s.QueryLength;
        Time("attention_forward", AttentionShapeText(s, dropout), 4.0 * scores * s.HeadDim + 5 * scores + DropoutFlops(dropout, scores),
            (2.0 * rows + 2.0 * s.Batch * s.Heads * s.KeyLength) * s.HeadDim * F + rows * F,
            () => Attention.AttentionForward(s, q, k, v, mask, o, stats, dropout));
    }

    public void AttentionBackward(in AttentionShape shape, Dense q, Dense k, Dense v, Dense? mask, Dense o, Dense stats, Dense go,
        Dense rowDot, Dense dq, Dense dk, Dense dv, DropoutStream dropout)
    {
        var s = shape;
        double scores = s.Probabilities, rows = (double)s.Batch * s.Heads * s.QueryLength;
        Time("attention_backward", AttentionShapeText(s, dropout), 10.0 * scores * s.HeadDim + 8 * scores + DropoutFlops(dropout, scores),
            (4.0 * rows + 4.0 * s.Batch * s.Heads * s.KeyLength) * s.HeadDim * F + 2 * rows * F,
            () => Attention.AttentionBackward(s, q, k, v, mask, o, stats, go, rowDot, dq, dk, dv, dropout));
    }
}
