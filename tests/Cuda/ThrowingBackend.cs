namespace Finetune.Tests.Cuda;

/// <summary>
/// A backend that fails every call, registered in place of the CPU backend while a device step runs: any op that falls
/// back to the host (a CPU tensor built inside the step, a host-side computation) throws and names itself.
/// </summary>
public sealed class ThrowingBackend(Device device) : IBackend
{
    public Device Device { get; } = device;

    public string Name => $"{Device} (disabled by the test)";

    private Exception Used(string call) => new InvalidOperationException($"{Device} backend used inside a device step: {call}");

    public DeviceBuffer Allocate(long bytes) => throw Used($"Allocate({bytes})");
    public void Synchronize() => throw Used(nameof(Synchronize));
    public void Free(DeviceBuffer buffer) => throw Used(nameof(Free));
    public void CopyFromHost<T>(ReadOnlySpan<T> source, Dense destination) where T : unmanaged => throw Used(nameof(CopyFromHost));
    public void CopyToHost<T>(Dense source, Span<T> destination) where T : unmanaged => throw Used(nameof(CopyToHost));
    public void Fill(Dense destination, long count, float value) => throw Used(nameof(Fill));
    public void Copy(DType dtype, Strided source, Strided destination) => throw Used(nameof(Copy));
    public void Unary(UnaryOp op, float arg, Dense x, Dense y, long count) => throw Used($"Unary({op})");
    public void UnaryBackward(UnaryOp op, float arg, Dense x, Dense y, Dense gy, Dense gx, long count) => throw Used($"UnaryBackward({op})");
    public void Binary(BinaryOp op, Strided a, Strided b, Strided c) => throw Used($"Binary({op})");
    public void Where(Strided condition, Strided a, Strided b, Strided output) => throw Used(nameof(Where));
    public void Reduce(ReduceOp op, Dense x, Dense y, int outer, int extent, int inner) => throw Used($"Reduce({op})");

    public void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, Dense a, int lda, long strideA, Dense b, int ldb, long strideB,
        float beta, Dense c, int ldc, long strideC, int batch) => throw Used(nameof(Gemm));

    public void Softmax(bool log, Dense x, Dense y, int rows, int cols, float scale = 1f, RowMask? mask = null) => throw Used(nameof(Softmax));
    public void SoftmaxBackward(bool log, Dense y, Dense gy, Dense gx, int rows, int cols, float scale = 1f) => throw Used(nameof(SoftmaxBackward));

    public void LayerNorm(Dense x, Dense weight, Dense bias, Dense y, Dense mean, Dense rstd, int rows, int cols, float eps) =>
        throw Used(nameof(LayerNorm));

    public void LayerNormBackward(Dense x, Dense weight, Dense mean, Dense rstd, Dense gy, Dense gx, Dense gw, Dense gb, int rows, int cols) =>
        throw Used(nameof(LayerNormBackward));

    public void Gather(Dense table, int tableRows, int cols, Dense ids, long count, Dense output) => throw Used(nameof(Gather));
    public void ScatterAdd(Dense gOut, Dense ids, long count, int cols, Dense gTable, int tableRows) => throw Used(nameof(ScatterAdd));

    public void NllLoss(Dense logProbs, Dense targets, int rows, int classes, int ignoreIndex, Dense loss, Dense weight) =>
        throw Used(nameof(NllLoss));

    public void NllLossBackward(Dense gLoss, Dense targets, int rows, int classes, int ignoreIndex, Dense gLogProbs) =>
        throw Used(nameof(NllLossBackward));

    public void AdamW(Dense param, Dense grad, Dense m, Dense v, long count, AdamWStep step) => throw Used(nameof(AdamW));
    public void RandomUniform(ulong seed, ulong offset, long count, float low, float high, Dense output) => throw Used(nameof(RandomUniform));
    public void RandomNormal(ulong seed, ulong offset, long count, float mean, float std, Dense output) => throw Used(nameof(RandomNormal));
}
