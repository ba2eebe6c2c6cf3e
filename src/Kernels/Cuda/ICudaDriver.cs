namespace Finetune.Kernels.Cuda;

/// <summary>Grid or block dimensions of a launch.</summary>
public readonly record struct Dim3(uint X, uint Y = 1, uint Z = 1)
{
    public ulong Volume => (ulong)X * Y * Z;

    public override string ToString() => $"({X}, {Y}, {Z})";
}

/// <summary>What the backend needs to know about a device.</summary>
public sealed record CudaDeviceInfo(string Name, int Multiprocessors, long TotalMemory, int ComputeMajor, int ComputeMinor,
    int MaxThreadsPerBlock, double PeakBandwidthGBs)
{
    public string ComputeCapability => $"{ComputeMajor}.{ComputeMinor}";
}

/// <summary>
/// The slice of the CUDA driver API the backend uses. Methods return the CUresult code unchanged; the backend
/// checks it (so the real driver and the host device produce the same exceptions). Device addresses are ulong.
/// </summary>
public unsafe interface ICudaDriver : IDisposable
{
    /// <summary>"NVIDIA driver" or "host device" — for messages and the gpu-check table.</summary>
    string Kind { get; }

    CudaDeviceInfo Info { get; }

    int MemAlloc(out ulong address, long bytes);

    int MemFree(ulong address);

    int MemGetInfo(out long free, out long total);

    int CopyHostToDevice(ulong destination, void* source, long bytes);

    int CopyDeviceToHost(void* destination, ulong source, long bytes);

    int CopyDeviceToDevice(ulong destination, ulong source, long bytes);

    int CopyHostToDeviceAsync(ulong destination, void* source, long bytes, nint stream);

    int CopyDeviceToHostAsync(void* destination, ulong source, long bytes, nint stream);

    int MemsetD32(ulong destination, uint value, long count);

    /// <summary>Loads PTX text; on failure <paramref name="log"/> holds the JIT compiler's error log.</summary>
    int ModuleLoadPtx(string ptx, out nint module, out string log);

    int ModuleUnload(nint module);

    int ModuleGetFunction(nint module, string name, out nint function);

    int LaunchKernel(nint function, Dim3 grid, Dim3 block, uint sharedBytes, nint stream, void** args);

    /// <summary>Message of the last failed launch where the implementation has one (the host device does).</summary>
    string LastLaunchDetail { get; }

    int StreamCreate(out nint stream);

    int StreamDestroy(nint stream);

    int StreamSynchronize(nint stream);

    int EventCreate(out nint evt);

    int EventDestroy(nint evt);

    int EventRecord(nint evt, nint stream);

    int EventSynchronize(nint evt);

    int EventElapsedTime(out float milliseconds, nint start, nint end);
}

public enum BlasOp
{
    N = 0,
    T = 1,
}

/// <summary>
/// The cuBLAS calls the backend uses, column-major as cuBLAS defines them. Returns cublasStatus_t codes.
/// <c>allowTf32</c> selects CUBLAS_COMPUTE_32F_FAST_TF32 instead of CUBLAS_COMPUTE_32F in the Ex calls.
/// </summary>
public interface ICudaBlas : IDisposable
{
    int SetStream(nint stream);

    int SgemmStridedBatched(BlasOp transA, BlasOp transB, int m, int n, int k, float alpha,
        ulong a, int lda, long strideA, ulong b, int ldb, long strideB, float beta, ulong c, int ldc, long strideC, int batch);

    int GemmEx(BlasOp transA, BlasOp transB, int m, int n, int k, float alpha,
        ulong a, int lda, ulong b, int ldb, float beta, ulong c, int ldc, bool allowTf32);

    int GemmStridedBatchedEx(BlasOp transA, BlasOp transB, int m, int n, int k, float alpha,
        ulong a, int lda, long strideA, ulong b, int ldb, long strideB, float beta, ulong c, int ldc, long strideC, int batch, bool allowTf32);
}
