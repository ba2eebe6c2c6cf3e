namespace Finetune.Kernels.Cpu;

/// <summary>The reference backend: native, 64-byte aligned host memory and vectorised, multi-threaded kernels.</summary>
public sealed unsafe class CpuBackend : IBackend, IMemoryStats, ILoraKernels, IEpilogueKernels, IAttentionKernels
{
    public static readonly CpuBackend Instance = new();

    // Host pages are reused through the cache: a fresh large buffer costs a page fault per 4 KiB on first touch.
    private readonly CachingAllocator _allocator = new(new HostRawMemory(), "cpu", maxCachedBytes: 4L << 30);

    private CpuBackend() { }

    public Device Device => Device.Cpu;

    public string Name => "cpu";

    public CachingAllocator Allocator => _allocator;

    public long AllocatedBytes
    {
        get { lock (_allocator) return _allocator.AllocatedBytes; }
    }

    public long PeakBytes
    {
        get { lock (_allocator) return _allocator.PeakAllocatedBytes; }
    }

    public void ResetPeak()
    {
        lock (_allocator) _allocator.ResetPeak();
    }

    /// <summary>Returns cached host blocks to the system.</summary>
    public void EmptyCache()
    {
        lock (_allocator) _allocator.EmptyCache();
    }

    public DeviceBuffer Allocate(long bytes)
    {
        if (bytes < 0) throw new ArgumentOutOfRangeException(nameof(bytes), bytes, "allocation size must not be negative");
        lock (_allocator) return new DeviceBuffer(this, (nint)_allocator.Allocate(bytes), bytes);
    }

    public void Synchronize() { }

    public void Free(DeviceBuffer buffer)
    {
        lock (_allocator) _allocator.Free((ulong)buffer.Pointer);
    }

    private static float* F(Dense d) => (float*)d.Buffer.Pointer + d.Offset;

    private static int* I(Dense d) => (int*)d.Buffer.Pointer + d.Offset;

    private static float* F(Strided s) => (float*)s.Buffer.Pointer + s.Layout.Offset;

    public void CopyFromHost<T>(ReadOnlySpan<T> source, Dense destination) where T : unmanaged =>
        source.CopyTo(new Span<T>((T*)destination.Buffer.Pointer + destination.Offset, source.Length));

    public void CopyToHost<T>(Dense source, Span<T> destination) where T : unmanaged =>
        new ReadOnlySpan<T>((T*)source.Buffer.Pointer + source.Offset, destination.Length).CopyTo(destination);

    public void Fill(Dense destination, long count, float value)
    {
        nint p = (nint)F(destination);
        CpuParallel.For(count, 1 << 16, (s, e) => new Span<float>((float*)p + s, (int)(e - s)).Fill(value));
    }

    public void Copy(DType dtype, Strided source, Strided destination)
    {
        var ix = new StridedIndex(destination.Layout.Shape, source.Layout.Strides, destination.Layout.Strides);
        switch (dtype.SizeOf())
        {
            case 4:
                ElementwiseLoops.Copy((int*)source.Buffer.Pointer + source.Layout.Offset,
                    (int*)destination.Buffer.Pointer + destination.Layout.Offset, ix);
                break;
            case 2:
                ElementwiseLoops.Copy((ushort*)source.Buffer.Pointer + source.Layout.Offset,
                    (ushort*)destination.Buffer.Pointer + destination.Layout.Offset, ix);
                break;
            default:
                throw new NotSupportedException($"copy: dtype {dtype.Name()} is not supported by the CPU backend");
        }
    }

    public void Unary(UnaryOp op, float arg, Dense x, Dense y, long count)
    {
        float* px = F(x), py = F(y);
        switch (op)
        {
            case UnaryOp.Neg: ElementwiseLoops.Unary<NegFn>(px, py, count, arg); break;
            case UnaryOp.Exp: ElementwiseLoops.Unary<ExpFn>(px, py, count, arg); break;
            case UnaryOp.Log: ElementwiseLoops.Unary<LogFn>(px, py, count, arg); break;
            case UnaryOp.Sqrt: ElementwiseLoops.Unary<SqrtFn>(px, py, count, arg); break;
            case UnaryOp.Rsqrt: ElementwiseLoops.Unary<RsqrtFn>(px, py, count, arg); break;
            case UnaryOp.Tanh: ElementwiseLoops.Unary<TanhFn>(px, py, count, arg); break;
            case UnaryOp.Relu: ElementwiseLoops.Unary<ReluFn>(px, py, count, arg); break;
            case UnaryOp.Sigmoid: ElementwiseLoops.Unary<SigmoidFn>(px, py, count, arg); break;
            case UnaryOp.GeluErf: ElementwiseLoops.Unary<GeluErfFn>(px, py, count, arg); break;
            case UnaryOp.GeluTanh: ElementwiseLoops.Unary<GeluTanhFn>(px, py, count, arg); break;
            case UnaryOp.Scale: ElementwiseLoops.Unary<ScaleFn>(px, py, count, arg); break;
            case UnaryOp.Pow: ElementwiseLoops.Unary<PowFn>(px, py, count, arg); break;
            case UnaryOp.AddScalar: ElementwiseLoops.Unary<AddScalarFn>(px, py, count, arg); break;
            case UnaryOp.DropoutMask: ElementwiseLoops.Unary<DropoutMaskFn>(px, py, count, arg); break;
            case UnaryOp.Abs: ElementwiseLoops.Unary<AbsFn>(px, py, count, arg); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "unknown unary op");
        }
    }

    public void UnaryBackward(UnaryOp op, float arg, Dense x, Dense y, Dense gy, Dense gx, long count)
    {
        float* px = F(x), py = F(y), pgy = F(gy), pgx = F(gx);
        switch (op)
        {
            case UnaryOp.Neg: ElementwiseLoops.UnaryGrad<NegFn>(px, py, pgy, pgx, count, arg); break;
            case UnaryOp.Exp: ElementwiseLoops.UnaryGrad<ExpFn>(px, py, pgy, pgx, count, arg); break;
            case UnaryOp.Log: ElementwiseLoops.UnaryGrad<LogFn>(px, py, pgy, pgx, count, arg); break;
            case UnaryOp.Sqrt: ElementwiseLoops.UnaryGrad<SqrtFn>(px, py, pgy, pgx, count, arg); break;
            case UnaryOp.Rsqrt: ElementwiseLoops.UnaryGrad<RsqrtFn>(px, py, pgy, pgx, count, arg); break;
            case UnaryOp.Tanh: ElementwiseLoops.UnaryGrad<TanhFn>(px, py, pgy, pgx, count, arg); break;
            case UnaryOp.Relu: ElementwiseLoops.UnaryGrad<ReluFn>(px, py, pgy, pgx, count, arg); break;
            case UnaryOp.Sigmoid: ElementwiseLoops.UnaryGrad<SigmoidFn>(px, py, pgy, pgx, count, arg); break;
            case UnaryOp.GeluErf: ElementwiseLoops.UnaryGrad<GeluErfFn>(px, py, pgy, pgx, count, arg); break;
            case UnaryOp.GeluTanh: ElementwiseLoops.UnaryGrad<GeluTanhFn>(px, py, pgy, pgx, count, arg); break;
            case UnaryOp.Scale: ElementwiseLoops.UnaryGrad<ScaleFn>(px, py, pgy, pgx, count, arg); break;
            case UnaryOp.Pow: ElementwiseLoops.UnaryGrad<PowFn>(px, py, pgy, pgx, count, arg); break;
            case UnaryOp.AddScalar: ElementwiseLoops.UnaryGrad<AddScalarFn>(px, py, pgy, pgx, count, arg); break;
            case UnaryOp.Abs: ElementwiseLoops.UnaryGrad<AbsFn>(px, py, pgy, pgx, count, arg); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "unary op has no backward");
        }
    }

    public void Binary(BinaryOp op, Strided a, Strided b, Strided c)
    {
        var ix = new StridedIndex(c.Layout.Shape, a.Layout.Strides, b.Layout.Strides, c.Layout.Strides);
        float* pa = F(a), pb = F(b), pc = F(c);
        switch (op)
        {
            case BinaryOp.Add: ElementwiseLoops.Binary<AddFn>(pa, pb, pc, ix); break;
            case BinaryOp.Sub: ElementwiseLoops.Binary<SubFn>(pa, pb, pc, ix); break;
            case BinaryOp.Mul: ElementwiseLoops.Binary<MulFn>(pa, pb, pc, ix); break;
            case BinaryOp.Div: ElementwiseLoops.Binary<DivFn>(pa, pb, pc, ix); break;
            case BinaryOp.Eq: ElementwiseLoops.Binary<EqFn>(pa, pb, pc, ix); break;
            case BinaryOp.Gt: ElementwiseLoops.Binary<GtFn>(pa, pb, pc, ix); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "unknown binary op");
        }
    }

    public void Where(Strided condition, Strided a, Strided b, Strided output)
    {
        var ix = new StridedIndex(output.Layout.Shape, condition.Layout.Strides, a.Layout.Strides, b.Layout.Strides, output.Layout.Strides);
        ElementwiseLoops.Where(F(condition), F(a), F(b), F(output), ix);
    }

    public void Reduce(ReduceOp op, Dense x, Dense y, int outer, int extent, int inner) =>
        RowKernels.Reduce(op, F(x), F(y), outer, extent, inner);

    public void Gemm(bool transA, bool transB, int m, int n, int k, float alpha,
        Dense a, int lda, long strideA, Dense b, int ldb, long strideB,
        float beta, Dense c, int ldc, long strideC, int batch) =>
        GemmPacked.Sgemm(transA, transB, m, n, k, alpha, F(a), lda, strideA, F(b), ldb, strideB, beta, F(c), ldc, strideC, batch);

    public void Softmax(bool log, Dense x, Dense y, int rows, int cols, float scale = 1f, RowMask? mask = null) =>
        RowKernels.Softmax(log, F(x), F(y), rows, cols, scale, mask is { } m ? F(m.Values) : null, mask?.Rows ?? 1, mask?.Divisor ?? 1);

    public void SoftmaxBackward(bool log, Dense y, Dense gy, Dense gx, int rows, int cols, float scale = 1f) =>
        RowKernels.SoftmaxBackward(log, F(y), F(gy), F(gx), rows, cols, scale);

    public void LayerNorm(Dense x, Dense weight, Dense bias, Dense y, Dense mean, Dense rstd, int rows, int cols, float eps) =>
        RowKernels.LayerNorm(F(x), F(weight), F(bias), F(y), F(mean), F(rstd), rows, cols, eps);

    public void LayerNormBackward(Dense x, Dense weight, Dense mean, Dense rstd, Dense gy, Dense gx, Dense gw, Dense gb, int rows,
        int cols) =>
        RowKernels.LayerNormBackward(F(x), F(weight), F(mean), F(rstd), F(gy), F(gx), F(gw), F(gb), rows, cols);

    public void Gather(Dense table, int tableRows, int cols, Dense ids, long count, Dense output) =>
        IndexKernels.Gather(F(table), tableRows, cols, I(ids), count, F(output));

    public void ScatterAdd(Dense gOut, Dense ids, long count, int cols, Dense gTable, int tableRows) =>
        IndexKernels.ScatterAdd(F(gOut), I(ids), count, cols, F(gTable), tableRows);

    public void NllLoss(Dense logProbs, Dense targets, int rows, int classes, int ignoreIndex, Dense loss, Dense weight) =>
        IndexKernels.NllLoss(F(logProbs), I(targets), rows, classes, ignoreIndex, F(loss), F(weight));

    public void NllLossBackward(Dense gLoss, Dense targets, int rows, int classes, int ignoreIndex, Dense gLogProbs) =>
        IndexKernels.NllLossBackward(F(gLoss), I(targets), rows, classes, ignoreIndex, F(gLogProbs));

    public void AdamW(Dense param, Dense grad, Dense m, Dense v, long count, AdamWStep step) =>
        OptimizerKernels.AdamW(F(param), F(grad), F(m), F(v), count, step);

    public void RandomUniform(ulong seed, ulong offset, long count, float low, float high, Dense output) =>
        IndexKernels.RandomUniform(seed, offset, count, low, high, F(output));

    public void RandomNormal(ulong seed, ulong offset, long count, float mean, float std, Dense output) =>
        IndexKernels.RandomNormal(seed, offset, count, mean, std, F(output));

    public void LinearEpilogue(Dense x, Dense weight, Dense? bias, Dense y, int rows, int inFeatures, int outFeatures,
        EpilogueActivation activation, DropoutStream dropout, Dense? residual, Dense? preActivation)
    {
        var epilogue = new GemmEpilogue(outFeatures, bias is { } b ? F(b) : null, activation, dropout, residual is { } r ? F(r) : null,
            preActivation is { } p ? F(p) : null);
        GemmPacked.Sgemm(false, true, rows, outFeatures, inFeatures, 1f, F(x), inFeatures, 0, F(weight), inFeatures, 0, 0f, F(y),
            outFeatures, 0, 1, epilogue);
    }

    public void DropoutBackward(Dense gy, Dense gx, long count, DropoutStream dropout) => PhiloxDropout.Apply(dropout, F(gy), F(gx), count);

    public bool StoresKeepBits => true;

    public void LoraDown(Dense x, Dense a, Dense u, int rows, int inFeatures, int rank, DropoutStream dropout, Dense? keepBits = null) =>
        LoraKernels.Down(F(x), F(a), F(u), rows, inFeatures, rank, dropout, Bits(keepBits));

    public void LoraUp(Dense u, Dense b, Dense y, int rows, int outFeatures, int rank, float scale) =>
        LoraKernels.Up(F(u), F(b), F(y), rows, outFeatures, rank, scale);

    public void LoraUpGemm(Dense x, Dense w, Dense u, Dense b, Dense y, int rows, int inFeatures, int outFeatures, int rank, float scale,
        float beta) =>
        LoraKernels.UpGemm(F(x), F(w), F(u), F(b), F(y), rows, inFeatures, outFeatures, rank, scale, beta);

    public void LoraInputGradGemm(Dense g, Dense w, Dense gu, Dense a, Dense gx, int rows, int inFeatures, int outFeatures, int rank,
        float beta) =>
        GemmPacked.Sgemm(false, false, rows, inFeatures, outFeatures, 1f, F(g), outFeatures, F(w), inFeatures,
            false, false, rank, F(gu), rank, F(a), inFeatures, beta, F(gx), inFeatures);

    public void LoraUpBackward(Dense g, Dense u, Dense b, Dense gu, Dense? gb, int rows, int outFeatures, int rank, float scale) =>
        LoraKernels.UpBackward(F(g), F(u), F(b), F(gu), gb is { } d ? F(d) : null, rows, outFeatures, rank, scale);

    public void LoraDownBackward(Dense x, Dense a, Dense gu, Dense? ga, Dense? gx, int rows, int inFeatures, int rank,
        DropoutStream dropout, Dense? keepBits = null) =>
        LoraKernels.DownBackward(F(x), F(a), F(gu), ga is { } d ? F(d) : null, gx is { } e ? F(e) : null, rows, inFeatures, rank, dropout,
            Bits(keepBits));

    public void LoraDownQkv(Dense x, LoraPart[] parts, int rows, int inFeatures) =>
        LoraKernels.Down(F(x), Parts(parts), rows, inFeatures);

    public void LoraDownBackwardQkv(Dense x, LoraPart[] parts, Dense? gx, int rows, int inFeatures) =>
        LoraKernels.DownBackward(F(x), Parts(parts), gx is { } d ? F(d) : null, rows, inFeatures);

    private static byte* Bits(Dense? d) => d is { } b ? (byte*)F(b) : null;

    private static LoraKernels.Part[] Parts(LoraPart[] parts) =>
        parts.Select(p => new LoraKernels.Part(F(p.A), p.Rank, p.Dropout, F(p.U), p.GradA is { } g ? F(g) : null, Bits(p.KeepBits)))
            .ToArray();

    public void AttentionForward(in AttentionShape shape, Dense q, Dense k, Dense v, Dense? mask, Dense o, Dense stats,
        DropoutStream dropout) =>
        AttentionKernels.Forward(shape, F(q), F(k), F(v), mask is { } m ? F(m) : null, F(o), F(stats), dropout);

    public void AttentionBackward(in AttentionShape shape, Dense q, Dense k, Dense v, Dense? mask, Dense o, Dense stats, Dense go,
        Dense rowDot, Dense dq, Dense dk, Dense dv, DropoutStream dropout) =>
        AttentionKernels.Backward(shape, F(q), F(k), F(v), mask is { } m ? F(m) : null, F(o), F(stats), F(go), F(rowDot), F(dq), F(dk),
            F(dv), dropout);
}
