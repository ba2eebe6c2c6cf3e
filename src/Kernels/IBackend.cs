namespace Finetune.Kernels;

/// <summary>
/// Kernels of one device. Backends compute; they know nothing of autograd. All counts and offsets are in
/// elements; float32 unless a parameter says otherwise (ids and targets are int32).
/// Kernels that index with data (gather, losses) validate the indices and throw
/// <see cref="ArgumentOutOfRangeException"/> naming the position and the value.
/// </summary>
public interface IBackend
{
    Device Device { get; }

    string Name { get; }

    DeviceBuffer Allocate(long bytes);

    /// <summary>Waits until every kernel issued so far has finished (a no-op on synchronous backends).</summary>
    void Synchronize();

    /// <summary>Called by <see cref="DeviceBuffer.Release"/> when its last reference goes.</summary>
    void Free(DeviceBuffer buffer);

    void CopyFromHost<T>(ReadOnlySpan<T> source, Dense destination) where T : unmanaged;

    void CopyToHost<T>(Dense source, Span<T> destination) where T : unmanaged;

    void Fill(Dense destination, long count, float value);

    /// <summary>Copies a strided view into another of the same shape (either may be non-contiguous).</summary>
    void Copy(DType dtype, Strided source, Strided destination);

    void Unary(UnaryOp op, float arg, Dense x, Dense y, long count);

    /// <summary>gx = gy · f'(x) for <paramref name="op"/>; <paramref name="y"/> is the forward output.</summary>
    void UnaryBackward(UnaryOp op, float arg, Dense x, Dense y, Dense gy, Dense gx, long count);

    /// <summary>c = a op b; a and b are already broadcast to c's shape (stride 0 on broadcast dims).</summary>
    void Binary(BinaryOp op, Strided a, Strided b, Strided c);

    /// <summary>out = cond != 0 ? a : b, all broadcast to out's shape.</summary>
    void Where(Strided condition, Strided a, Strided b, Strided output);

    /// <summary>Reduces x viewed as [outer, extent, inner] over the middle dimension into y [outer, inner].</summary>
    void Reduce(ReduceOp op, Dense x, Dense y, int outer, int extent, int inner);

    /// <summary>
    /// Row-major batched GEMM: C[i] = alpha·op(A[i])·op(B[i]) + beta·C[i], op(A) m×k, op(B) k×n, for i &lt; batch.
    /// A stride of 0 broadcasts one matrix over the batch.
    /// </summary>
    void Gemm(bool transA, bool transB, int m, int n, int k, float alpha,
        Dense a, int lda, long strideA, Dense b, int ldb, long strideB,
        float beta, Dense c, int ldc, long strideC, int batch);

    /// <summary>
    /// Softmax (or log-softmax) of each row of <c>scale·x + mask</c>, x rows×cols: attention's scale, padding mask
    /// and softmax in one pass. Row r adds mask row <c>(r / mask.Divisor) % mask.Rows</c>; no mask adds nothing.
    /// </summary>
    void Softmax(bool log, Dense x, Dense y, int rows, int cols, float scale = 1f, RowMask? mask = null);

    /// <summary>The gradient of <see cref="Softmax"/> with respect to x, from its output y (the mask is constant).</summary>
    void SoftmaxBackward(bool log, Dense y, Dense gy, Dense gx, int rows, int cols, float scale = 1f);

    /// <summary>Normalises each row; writes mean and 1/std per row for the backward pass.</summary>
    void LayerNorm(Dense x, Dense weight, Dense bias, Dense y, Dense mean, Dense rstd, int rows, int cols, float eps);

    /// <summary>gx for every row; gw and gb accumulate over rows into zeroed buffers.</summary>
    void LayerNormBackward(Dense x, Dense weight, Dense mean, Dense rstd, Dense gy, Dense gx, Dense gw, Dense gb, int rows, int cols);

    /// <summary>out[i, :] = table[ids[i], :].</summary>
    void Gather(Dense table, int tableRows, int cols, Dense ids, long count, Dense output);

    /// <summary>gTable[ids[i], :] += gOut[i, :] (gTable zeroed by the caller).</summary>
    void ScatterAdd(Dense gOut, Dense ids, long count, int cols, Dense gTable, int tableRows);

    /// <summary>loss[r] = -logp[r, t[r]] and weight[r] = 1, or both 0 where t[r] == ignoreIndex.</summary>
    void NllLoss(Dense logProbs, Dense targets, int rows, int classes, int ignoreIndex, Dense loss, Dense weight);

    /// <summary>gLogp[r, t[r]] = -gLoss[r] (others 0; ignored rows all 0).</summary>
    void NllLossBackward(Dense gLoss, Dense targets, int rows, int classes, int ignoreIndex, Dense gLogProbs);

    /// <summary>
    /// One AdamW step over a contiguous parameter: m and v are updated in place, then
    /// p -= lr·(m/bias1 / (sqrt(v/bias2) + eps) + weightDecay·p), with bias_i = 1 - beta_i^step.
    /// </summary>
    void AdamW(Dense param, Dense grad, Dense m, Dense v, long count, AdamWStep step);

    /// <summary>Uniform floats in [low, high) from Philox4x32-10 (element i uses counter offset + i/4, lane i%4).</summary>
    void RandomUniform(ulong seed, ulong offset, long count, float low, float high, Dense output);

    /// <summary>Normal floats by Box–Muller over the same Philox stream.</summary>
    void RandomNormal(ulong seed, ulong offset, long count, float mean, float std, Dense output);
}
