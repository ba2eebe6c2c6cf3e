namespace Finetune.Kernels.Cuda;

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
