using System.Runtime.InteropServices;
using Finetune.Kernels.Cpu;
using Finetune.Kernels.Cuda.Host;
using Finetune.Kernels.Cuda.Native;

namespace Finetune.Kernels.Cuda;

/// <summary>
/// The CUDA backend: kernels of kernels.cu launched through <see cref="ICudaDriver"/>, GEMM through
/// <see cref="ICudaBlas"/>, memory from a <see cref="CachingAllocator"/>. All work goes to the null stream in
/// order, so a copy to the host sees every earlier kernel. The same code runs on a GPU (native driver and
/// cuBLAS) and on the host device (kernels compiled for the CPU), which is how CI tests it.
/// </summary>
public sealed unsafe partial class CudaBackend : IBackend, IMemoryStats, IDisposable
{
    private const int Threads = 256;

    private readonly ICudaDriver _driver;
    private readonly ICudaBlas _blas;
    private readonly nint _module;
    private readonly nint[] _functions;
    private readonly ulong _scratch;
    private readonly object _gate = new();
    private readonly ArgPack _args = new();
    private readonly uint _maxBlocks;
    private bool _disposed;

    public CudaBackend(ICudaDriver driver, ICudaBlas blas, Device device, CudaOptions? options = null, string? ptx = null)
    {
        if (device.Kind != DeviceKind.Cuda) throw new ArgumentException($"CUDA backend: {device} is not a CUDA device", nameof(device));
        _driver = driver;
        _blas = blas;
        Device = device;
        Options = options ?? new CudaOptions();
        if (Options.MaxRowThreads is < 32 or > Threads || Options.MaxRowThreads % 32 != 0)
            throw new ArgumentOutOfRangeException(nameof(options), Options.MaxRowThreads,
                $"CUDA options: MaxRowThreads must be a multiple of 32 in [32, {Threads}]");
        string source = ptx is null ? $"embedded resource {CudaKernels.ResourceName}" : "the given PTX";
        ptx ??= CudaKernels.EmbeddedPtx();
        CudaKernels.Validate(ptx, source);
        int status = driver.ModuleLoadPtx(ptx, out _module, out string log);
        CudaException.Check(status, "cuModuleLoadDataEx", log.Length > 0 ? $"JIT log: {log.Trim()}" : source);
        _functions = new nint[CudaKernels.Table.Length];
        for (int i = 0; i < _functions.Length; i++)
            CudaException.Check(driver.ModuleGetFunction(_module, CudaKernels.Table[i].Name, out _functions[i]), "cuModuleGetFunction",
                CudaKernels.Table[i].Name);
        CudaException.Check(blas.SetStream(0), "cublasSetStream_v2");
        Allocator = new CachingAllocator(new CudaRawMemory(driver, device.ToString()), device.ToString());
        // Scratch for device-side error flags, outside the allocator so its statistics count tensors only.
        CudaException.Check(driver.MemAlloc(out _scratch, 256), "cuMemAlloc", "error flag scratch");
        _maxBlocks = (uint)Math.Max(1, driver.Info.Multiprocessors * 32);
    }

    /// <summary>The backend of the host device (kernels.cu on the CPU) for <paramref name="device"/>.</summary>
    public static CudaBackend CreateHost(Device device, long memoryBytes = 4L << 30, string? libraryPath = null,
        CudaOptions? options = null)
    {
        var driver = new HostCudaDriver(libraryPath, memoryBytes);
        return new CudaBackend(driver, new HostCudaBlas(), device, options);
    }

    /// <summary>The backend of GPU <paramref name="ordinal"/>; throws <see cref="CudaUnavailableException"/> saying why when there is
    /// none.</summary>
    public static CudaBackend CreateNative(int ordinal = 0, CudaOptions? options = null)
    {
        var driver = new NativeCudaDriver(ordinal);
        try
        {
            return new CudaBackend(driver, new NativeCudaBlas(driver), Device.Cuda(ordinal), options);
        }
        catch
        {
            driver.Dispose();
            throw;
        }
    }

    public Device Device { get; }

    public string Name => $"cuda ({_driver.Kind}: {_driver.Info.Name})";

    public CudaOptions Options { get; }

    public CudaDeviceInfo Info => _driver.Info;

    public ICudaDriver Driver => _driver;

    public CachingAllocator Allocator { get; }

    public long AllocatedBytes => Allocator.AllocatedBytes;

    public long PeakBytes => Allocator.PeakAllocatedBytes;

    public void ResetPeak() => Allocator.ResetPeak();

    // ---- memory ----

    public DeviceBuffer Allocate(long bytes)
    {
        if (bytes < 0) throw new ArgumentOutOfRangeException(nameof(bytes), bytes, "allocation size must not be negative");
        lock (_gate) return new DeviceBuffer(this, (nint)Allocator.Allocate(bytes), bytes);
    }

    public void Free(DeviceBuffer buffer)
    {
        lock (_gate) Allocator.Free((ulong)buffer.Pointer);
    }

    /// <summary>Returns cached blocks to the driver (after freeing tensors, to give memory back to other processes).</summary>
    public void EmptyCache()
    {
        lock (_gate) Allocator.EmptyCache();
    }

    private ulong Address(DeviceBuffer buffer, long offset, int elementSize)
    {
        if (!ReferenceEquals(buffer.Backend, this))
            throw new ArgumentException($"CUDA backend ({Device}): buffer lives on {buffer.Device}, not on this device");
        if (buffer.IsReleased) throw new ObjectDisposedException(nameof(DeviceBuffer), $"{Device}: buffer memory was already freed");
        return (ulong)buffer.Pointer + (ulong)(offset * elementSize);
    }

    internal ulong F(Dense d) => Address(d.Buffer, d.Offset, 4);

    private ulong F(Strided s, int elementSize = 4) => Address(s.Buffer, s.Layout.Offset, elementSize);

    public void CopyFromHost<T>(ReadOnlySpan<T> source, Dense destination) where T : unmanaged
    {
        ulong dst = Address(destination.Buffer, destination.Offset, sizeof(T));
        fixed (T* p = source)
        {
            lock (_gate) CudaException.Check(_driver.CopyHostToDevice(dst, p, (long)source.Length * sizeof(T)), "cuMemcpyHtoD");
        }
    }

    public void CopyToHost<T>(Dense source, Span<T> destination) where T : unmanaged
    {
        ulong src = Address(source.Buffer, source.Offset, sizeof(T));
        fixed (T* p = destination)
        {
            lock (_gate) CudaException.Check(_driver.CopyDeviceToHost(p, src, (long)destination.Length * sizeof(T)), "cuMemcpyDtoH");
        }
    }

    // ---- launches ----

    /// <summary>Grid for a grid-stride kernel over <paramref name="work"/> items: enough blocks to fill the device, no more.</summary>
    private Dim3 GridFor(long work, int threads = Threads) =>
        new((uint)Math.Clamp((work + threads - 1) / threads, 1, _maxBlocks));

    /// <summary>Threads per block for a one-block-per-row kernel: a warp multiple near the row length, at most 256.</summary>
    private Dim3 RowBlock(int cols) => new((uint)Math.Clamp((cols + 31) / 32 * 32, 32, Options.MaxRowThreads));

    private Dim3 RowGrid(long rows) => new((uint)Math.Clamp(rows, 1L, _maxBlocks));

    /// <summary>Column-tile kernels (reduce_cols, layer norm dw/db): 32 columns × FT_TILE_ROWS thread rows per block.</summary>
    private static readonly Dim3 TileBlock = new(32, 8);

    private Dim3 TileGrid(long tiles) => new((uint)Math.Clamp(tiles, 1L, _maxBlocks));

    /// <summary>Packs arguments with <paramref name="pack"/> and launches; a failed launch names the kernel and configuration.</summary>
    internal void Launch(KernelId id, Dim3 grid, Dim3 block, Action<ArgPack> pack)
    {
        var (name, count) = CudaKernels.Table[(int)id];
        lock (_gate)
        {
            _args.Reset();
            pack(_args);
            if (_args.Count != count)
                throw new InvalidOperationException($"{name}: {_args.Count} arguments packed, the kernel takes {count}");
            int status = _driver.LaunchKernel(_functions[(int)id], grid, block, 0, 0, _args.Pointers);
            if (status != CudaStatus.Success)
            {
                string detail = $"kernel {name}, grid {grid}, block {block}";
                if (_driver.LastLaunchDetail.Length > 0) detail += $" ({_driver.LastLaunchDetail})";
                CudaException.Check(status, "cuLaunchKernel", detail);
            }
        }
    }

    public void Fill(Dense destination, long count, float value)
    {
        if (count == 0) return;
        ulong y = F(destination);
        Launch(KernelId.Fill, GridFor((count + 3) / 4), new(Threads), a => a.Add(y).Add(value).Add(count));
    }

    public void Copy(DType dtype, Strided source, Strided destination)
    {
        int size = dtype.SizeOf();
        long count = destination.Layout.Count;
        if (count == 0) return;
        ulong src = F(source, size), dst = F(destination, size);
        if (source.Layout.IsContiguous && destination.Layout.IsContiguous)
        {
            lock (_gate) CudaException.Check(_driver.CopyDeviceToDevice(dst, src, count * size), "cuMemcpyDtoD");
            return;
        }
        var s = StridedArgs.From(new StridedIndex(destination.Layout.Shape, source.Layout.Strides, destination.Layout.Strides), "copy");
        var id = size switch
        {
            4 => KernelId.CopyB32,
            2 => KernelId.CopyB16,
            _ => throw new NotSupportedException($"copy: dtype {dtype.Name()} is not supported by the CUDA backend"),
        };
        Launch(id, GridFor(count), new(Threads), a => a.Add(src).Add(dst).Add(count).Add(s));
    }

    public void Unary(UnaryOp op, float arg, Dense x, Dense y, long count)
    {
        if (!Enum.IsDefined(op)) throw new ArgumentOutOfRangeException(nameof(op), op, "unknown unary op");
        if (count == 0) return;
        ulong px = F(x), py = F(y);
        Launch(KernelId.Unary, GridFor((count + 3) / 4), new(Threads), a => a.Add((int)op).Add(arg).Add(px).Add(py).Add(count));
    }

    public void UnaryBackward(UnaryOp op, float arg, Dense x, Dense y, Dense gy, Dense gx, long count)
    {
        if (!Enum.IsDefined(op) || op == UnaryOp.DropoutMask)
            throw new ArgumentOutOfRangeException(nameof(op), op, "unary op has no backward");
        if (count == 0) return;
        ulong px = F(x), py = F(y), pgy = F(gy), pgx = F(gx);
        Launch(KernelId.UnaryBackward, GridFor((count + 3) / 4), new(Threads),
            a => a.Add((int)op).Add(arg).Add(px).Add(py).Add(pgy).Add(pgx).Add(count));
    }

    public void Binary(BinaryOp op, Strided a, Strided b, Strided c)
    {
        if (!Enum.IsDefined(op)) throw new ArgumentOutOfRangeException(nameof(op), op, "unknown binary op");
        long count = c.Layout.Count;
        if (count == 0) return;
        var s = StridedArgs.From(new StridedIndex(c.Layout.Shape, a.Layout.Strides, b.Layout.Strides, c.Layout.Strides), "binary");
        ulong pa = F(a), pb = F(b), pc = F(c);
        Launch(KernelId.Binary, GridFor((count + 3) / 4), new(Threads), p => p.Add((int)op).Add(pa).Add(pb).Add(pc).Add(count).Add(s));
    }

    public void Where(Strided condition, Strided a, Strided b, Strided output)
    {
        long count = output.Layout.Count;
        if (count == 0) return;
        var s = StridedArgs.From(new StridedIndex(output.Layout.Shape, condition.Layout.Strides, a.Layout.Strides, b.Layout.Strides,
            output.Layout.Strides), "where");
        ulong pm = F(condition), pa = F(a), pb = F(b), po = F(output);
        Launch(KernelId.Where, GridFor(count), new(Threads), p => p.Add(pm).Add(pa).Add(pb).Add(po).Add(count).Add(s));
    }

    public void Reduce(ReduceOp op, Dense x, Dense y, int outer, int extent, int inner)
    {
        if (!Enum.IsDefined(op)) throw new ArgumentOutOfRangeException(nameof(op), op, "unknown reduce op");
        long outputs = (long)outer * inner;
        if (outputs == 0) return;
        ulong px = F(x), py = F(y);
        if (inner == 1 && outer == 1 && extent > LongReduction)
        {
            ReduceLong(op, px, py, extent);
            return;
        }
        if (inner == 1)
            Launch(KernelId.ReduceRows, RowGrid(outer), RowBlock(extent), a => a.Add((int)op).Add(px).Add(py).Add(outer).Add(extent));
        else
            Launch(KernelId.ReduceCols, TileGrid((long)outer * ((inner + 31) / 32)), TileBlock,
                a => a.Add((int)op).Add(px).Add(py).Add(outer).Add(extent).Add(inner));
    }

    /// <summary>Single rows longer than this are reduced in two passes (chunks, then the partials).</summary>
    private const int LongReduction = 1 << 16;

    private void ReduceLong(ReduceOp op, ulong x, ulong y, int extent)
    {
        // Fixed-size chunks (growing only past 4096 of them), so the summation order depends on the length alone.
        long chunk = Math.Max(LongReduction, (((long)extent + 4095) / 4096 + 1023) & ~1023L);
        int chunks = (int)((extent + chunk - 1) / chunk);
        var partial = Allocate(chunks * 4L);
        try
        {
            ulong pp = (ulong)partial.Pointer;
            Launch(KernelId.ReduceChunks, new Dim3((uint)Math.Min(chunks, (int)_maxBlocks)), new(Threads),
                a => a.Add((int)op).Add(x).Add(pp).Add((long)extent).Add(chunk));
            Launch(KernelId.ReduceRows, new Dim3(1), RowBlock(chunks), a => a.Add((int)op).Add(pp).Add(y).Add(1).Add(chunks));
        }
        finally
        {
            partial.Release(); // stream order keeps the block alive for the kernels already queued
        }
    }

    /// <summary>Row-major GEMM as column-major cuBLAS: Cᵀ = op(B)ᵀ·op(A)ᵀ, so A and B swap places and m and n swap.</summary>
    public void Gemm(bool transA, bool transB, int m, int n, int k, float alpha,
        Dense a, int lda, long strideA, Dense b, int ldb, long strideB,
        float beta, Dense c, int ldc, long strideC, int batch)
    {
        if (m == 0 || n == 0 || batch == 0) return;
        ulong pa = F(a), pb = F(b), pc = F(c);
        var opA = transA ? BlasOp.T : BlasOp.N;
        var opB = transB ? BlasOp.T : BlasOp.N;
        int status;
        string call;
        lock (_gate)
        {
            if (!Options.AllowTf32)
            {
                call = "cublasSgemmStridedBatched";
                status = _blas.SgemmStridedBatched(opB, opA, n, m, k, alpha, pb, ldb, strideB, pa, lda, strideA, beta, pc, ldc,
                    strideC, batch);
            }
            else if (batch == 1)
            {
                call = "cublasGemmEx";
                status = _blas.GemmEx(opB, opA, n, m, k, alpha, pb, ldb, pa, lda, beta, pc, ldc, true);
            }
            else
            {
                call = "cublasGemmStridedBatchedEx";
                status = _blas.GemmStridedBatchedEx(opB, opA, n, m, k, alpha, pb, ldb, strideB, pa, lda, strideA, beta, pc, ldc, strideC,
                    batch, true);
            }
        }
        CudaException.CheckBlas(status, call, $"row-major m={m} n={n} k={k} transA={transA} transB={transB} lda={lda} ldb={ldb} "
            + $"ldc={ldc} batch={batch}");
    }

    public void Softmax(bool log, Dense x, Dense y, int rows, int cols, float scale = 1f, RowMask? mask = null)
    {
        if (rows == 0 || cols == 0) return;
        ulong px = F(x), py = F(y), pm = mask is { } m ? F(m.Values) : 0;
        int maskRows = mask?.Rows ?? 1;
        long maskDivisor = mask?.Divisor ?? 1;
        Launch(KernelId.Softmax, RowGrid(rows), RowBlock(cols),
            a => a.Add(log ? 1 : 0).Add(px).Add(py).Add(rows).Add(cols).Add(scale).Add(pm).Add(maskRows).Add(maskDivisor));
    }

    public void SoftmaxBackward(bool log, Dense y, Dense gy, Dense gx, int rows, int cols, float scale = 1f)
    {
        if (rows == 0 || cols == 0) return;
        ulong py = F(y), pgy = F(gy), pgx = F(gx);
        Launch(KernelId.SoftmaxBackward, RowGrid(rows), RowBlock(cols),
            a => a.Add(log ? 1 : 0).Add(py).Add(pgy).Add(pgx).Add(rows).Add(cols).Add(scale));
    }

    public void LayerNorm(Dense x, Dense weight, Dense bias, Dense y, Dense mean, Dense rstd, int rows, int cols, float eps)
    {
        if (rows == 0) return;
        ulong px = F(x), pw = F(weight), pb = F(bias), py = F(y), pm = F(mean), pr = F(rstd);
        Launch(KernelId.LayerNorm, RowGrid(rows), RowBlock(cols),
            a => a.Add(px).Add(pw).Add(pb).Add(py).Add(pm).Add(pr).Add(rows).Add(cols).Add(eps));
    }

    public void LayerNormBackward(Dense x, Dense weight, Dense mean, Dense rstd, Dense gy, Dense gx, Dense gw, Dense gb, int rows, int cols)
    {
        if (rows == 0 || cols == 0) return;
        ulong px = F(x), pw = F(weight), pm = F(mean), pr = F(rstd), pgy = F(gy), pgx = F(gx), pgw = F(gw), pgb = F(gb);
        Launch(KernelId.LayerNormBackwardDx, RowGrid(rows), RowBlock(cols),
            a => a.Add(px).Add(pw).Add(pm).Add(pr).Add(pgy).Add(pgx).Add(rows).Add(cols));
        Launch(KernelId.LayerNormBackwardDwDb, TileGrid((cols + 31) / 32), TileBlock,
            a => a.Add(px).Add(pm).Add(pr).Add(pgy).Add(pgw).Add(pgb).Add(rows).Add(cols));
    }

    /// <summary>
    /// Runs validate_index_i32 and reads its flag back; throws the CPU backend's exception for the first bad
    /// index, before any kernel writes with it.
    /// </summary>
    private void ValidateIndices(string kernel, string what, Dense ids, long count, int limit, int? ignore = null)
    {
        if (count == 0) return;
        ulong pi = Address(ids.Buffer, ids.Offset, 4), flag = _scratch;
        lock (_gate) CudaException.Check(_driver.MemsetD32(flag, uint.MaxValue, 2), "cuMemsetD32");
        Launch(KernelId.ValidateIndex, GridFor(count), new(Threads),
            a => a.Add(pi).Add(count).Add(limit).Add(ignore.HasValue ? 1 : 0).Add(ignore ?? 0).Add(flag));
        ulong first;
        int value;
        lock (_gate)
        {
            CudaException.Check(_driver.CopyDeviceToHost(&first, flag, 8), "cuMemcpyDtoH", "index error flag");
            if (first == ulong.MaxValue) return;
            CudaException.Check(_driver.CopyDeviceToHost(&value, pi + first * 4, 4), "cuMemcpyDtoH", "bad index");
        }
        throw new ArgumentOutOfRangeException(what, value, $"{kernel}: {what}[{first}] = {value} is outside [0, {limit})");
    }

    public void Gather(Dense table, int tableRows, int cols, Dense ids, long count, Dense output)
    {
        ValidateIndices("embedding", "ids", ids, count, tableRows);
        if (count == 0 || cols == 0) return;
        ulong pt = F(table), pi = F(ids), po = F(output);
        Launch(KernelId.Gather, GridFor(count * cols), new(Threads), a => a.Add(pt).Add(pi).Add(count).Add(cols).Add(po));
    }

    public void ScatterAdd(Dense gOut, Dense ids, long count, int cols, Dense gTable, int tableRows)
    {
        ValidateIndices("embedding backward", "ids", ids, count, tableRows);
        if (count == 0 || cols == 0) return;
        ulong pg = F(gOut), pi = F(ids), pt = F(gTable);
        Launch(KernelId.ScatterAdd, GridFor(count * cols), new(Threads), a => a.Add(pg).Add(pi).Add(count).Add(cols).Add(pt));
    }

    public void NllLoss(Dense logProbs, Dense targets, int rows, int classes, int ignoreIndex, Dense loss, Dense weight)
    {
        ValidateIndices("cross_entropy", "targets", targets, rows, classes, ignoreIndex);
        if (rows == 0) return;
        ulong pl = F(logProbs), pt = F(targets), ploss = F(loss), pw = F(weight);
        Launch(KernelId.NllLoss, GridFor(rows), new(Threads),
            a => a.Add(pl).Add(pt).Add(rows).Add(classes).Add(ignoreIndex).Add(ploss).Add(pw));
    }

    public void NllLossBackward(Dense gLoss, Dense targets, int rows, int classes, int ignoreIndex, Dense gLogProbs)
    {
        ValidateIndices("cross_entropy backward", "targets", targets, rows, classes, ignoreIndex);
        if ((long)rows * classes == 0) return;
        ulong pg = F(gLoss), pt = F(targets), po = F(gLogProbs);
        Launch(KernelId.NllLossBackward, GridFor((long)rows * classes), new(Threads),
            a => a.Add(pg).Add(pt).Add(rows).Add(classes).Add(ignoreIndex).Add(po));
    }

    public void AdamW(Dense param, Dense grad, Dense m, Dense v, long count, AdamWStep step)
    {
        if (count == 0) return;
        ulong pp = F(param), pg = F(grad), pm = F(m), pv = F(v);
        // Derived constants computed exactly as the CPU kernel does, so both round the same way.
        float b1 = step.Beta1, b2 = step.Beta2, c1 = 1f - step.Beta1, c2 = 1f - step.Beta2;
        float stepSize = step.LearningRate / step.Bias1, invSqrtBias2 = 1f / MathF.Sqrt(step.Bias2),
            decay = 1f - step.LearningRate * step.WeightDecay;
        Launch(KernelId.AdamW, GridFor(count), new(Threads), a => a.Add(pp).Add(pg).Add(pm).Add(pv).Add(count)
            .Add(b1).Add(b2).Add(c1).Add(c2).Add(stepSize).Add(invSqrtBias2).Add(step.Eps).Add(decay));
    }

    public void RandomUniform(ulong seed, ulong offset, long count, float low, float high, Dense output)
    {
        if (count == 0) return;
        ulong po = F(output);
        Launch(KernelId.RandomUniform, GridFor((count + 3) / 4), new(Threads),
            a => a.Add(seed).Add(offset).Add(count).Add(low).Add(high).Add(po));
    }

    public void RandomNormal(ulong seed, ulong offset, long count, float mean, float std, Dense output)
    {
        if (count == 0) return;
        ulong po = F(output);
        Launch(KernelId.RandomNormal, GridFor((count + 3) / 4), new(Threads),
            a => a.Add(seed).Add(offset).Add(count).Add(mean).Add(std).Add(po));
    }

    /// <summary>Waits for all queued work (for timing and before handing results to other devices).</summary>
    public void Synchronize()
    {
        lock (_gate) CudaException.Check(_driver.StreamSynchronize(0), "cuStreamSynchronize");
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        lock (_gate)
        {
            // Teardown statuses are not turned into exceptions: Dispose must not throw and there is nothing to retry.
            _driver.MemFree(_scratch);
            Allocator.EmptyCache();
            _driver.ModuleUnload(_module);
            _args.Dispose();
        }
        _blas.Dispose();
        _driver.Dispose();
    }
}
