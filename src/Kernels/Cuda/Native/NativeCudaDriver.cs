using System.Runtime.InteropServices;
using System.Text;
using static Finetune.Kernels.Cuda.Native.DriverApi;

namespace Finetune.Kernels.Cuda.Native;

/// <summary>
/// The real device through libcuda.so.1: one GPU, its primary context made current on whichever thread calls.
/// Construction checks every step and throws <see cref="CudaUnavailableException"/> naming the step that failed.
/// </summary>
public sealed unsafe class NativeCudaDriver : ICudaDriver
{
    [ThreadStatic] private static nint _currentOnThread;

    private readonly int _device;
    private readonly nint _context;
    private bool _disposed;

    public NativeCudaDriver(int ordinal = 0)
    {
        if (!CudaLibraries.TryLoadFirst(CudaLibraries.DriverCandidates, out _, out string reason))
            throw new CudaUnavailableException(CudaUnavailableException.MissingDriver(reason));
        Require(cuInit(0), "cuInit");
        Require(cuDeviceGetCount(out int count), "cuDeviceGetCount");
        if (count == 0) throw new CudaUnavailableException("cuDeviceGetCount found no CUDA device");
        if (ordinal < 0 || ordinal >= count)
            throw new CudaUnavailableException($"device cuda:{ordinal} does not exist ({count} device(s))");
        Require(cuDeviceGet(out _device, ordinal), "cuDeviceGet");
        Require(cuDevicePrimaryCtxRetain(out _context, _device), "cuDevicePrimaryCtxRetain");
        EnsureCurrent();
        Info = QueryInfo(_device);
    }

    private static void Require(int status, string call)
    {
        if (status != 0)
        {
            string name = ErrorName(status), hint = CudaStatus.Hint(status);
            throw new CudaUnavailableException($"{call} failed with {name} ({status}){(hint.Length > 0 ? ": " + hint : "")}");
        }
    }

    private static CudaDeviceInfo QueryInfo(int device)
    {
        var name = stackalloc byte[256];
        CudaException.Check(cuDeviceGetName(name, 256, device), "cuDeviceGetName");
        CudaException.Check(cuDeviceTotalMem(out nuint total, device), "cuDeviceTotalMem");
        int Attribute(int attribute, string what)
        {
            CudaException.Check(cuDeviceGetAttribute(out int value, attribute, device), "cuDeviceGetAttribute", what);
            return value;
        }
        int sms = Attribute(AttributeMultiprocessorCount, "multiprocessor count");
        int major = Attribute(AttributeComputeCapabilityMajor, "compute capability major");
        int minor = Attribute(AttributeComputeCapabilityMinor, "compute capability minor");
        int maxThreads = Attribute(AttributeMaxThreadsPerBlock, "max threads per block");
        // Peak DRAM bandwidth = 2 transfers per clock × clock × bus width; drivers that no longer report the clock give 0.
        double bandwidth = 0;
        if (cuDeviceGetAttribute(out int clockKHz, AttributeMemoryClockRate, device) == 0
            && cuDeviceGetAttribute(out int busBits, AttributeGlobalMemoryBusWidth, device) == 0)
            bandwidth = 2.0 * clockKHz * 1e3 * (busBits / 8.0) / 1e9;
        string text = Marshal.PtrToStringUTF8((nint)name) ?? "unknown GPU";
        return new CudaDeviceInfo(text, sms, (long)total, major, minor, maxThreads, bandwidth);
    }

    /// <summary>The primary context is current per thread; make it current on this one once (cuBLAS needs it too).</summary>
    internal void EnsureCurrent()
    {
        if (_currentOnThread == _context) return;
        CudaException.Check(cuCtxSetCurrent(_context), "cuCtxSetCurrent");
        _currentOnThread = _context;
    }

    public string Kind => "NVIDIA driver";

    public CudaDeviceInfo Info { get; }

    public string LastLaunchDetail => "";

    public int MemAlloc(out ulong address, long bytes)
    {
        EnsureCurrent();
        return cuMemAlloc(out address, (nuint)bytes);
    }

    public int MemFree(ulong address)
    {
        EnsureCurrent();
        return cuMemFree(address);
    }

    public int MemGetInfo(out long free, out long total)
    {
        EnsureCurrent();
        int status = cuMemGetInfo(out nuint f, out nuint t);
        free = (long)f;
        total = (long)t;
        return status;
    }

    public int CopyHostToDevice(ulong destination, void* source, long bytes)
    {
        EnsureCurrent();
        return cuMemcpyHtoD(destination, source, (nuint)bytes);
    }

    public int CopyDeviceToHost(void* destination, ulong source, long bytes)
    {
        EnsureCurrent();
        return cuMemcpyDtoH(destination, source, (nuint)bytes);
    }

    public int CopyDeviceToDevice(ulong destination, ulong source, long bytes)
    {
        EnsureCurrent();
        return cuMemcpyDtoD(destination, source, (nuint)bytes);
    }

    public int CopyHostToDeviceAsync(ulong destination, void* source, long bytes, nint stream)
    {
        EnsureCurrent();
        return cuMemcpyHtoDAsync(destination, source, (nuint)bytes, stream);
    }

    public int CopyDeviceToHostAsync(void* destination, ulong source, long bytes, nint stream)
    {
        EnsureCurrent();
        return cuMemcpyDtoHAsync(destination, source, (nuint)bytes, stream);
    }

    public int MemsetD32(ulong destination, uint value, long count)
    {
        EnsureCurrent();
        return cuMemsetD32(destination, value, (nuint)count);
    }

    public int ModuleLoadPtx(string ptx, out nint module, out string log)
    {
        EnsureCurrent();
        const int LogBytes = 16 * 1024;
        byte[] image = Encoding.UTF8.GetBytes(ptx + "\0");
        byte* errorLog = stackalloc byte[LogBytes];
        byte* infoLog = stackalloc byte[LogBytes];
        errorLog[0] = 0;
        infoLog[0] = 0;
        int* options = stackalloc int[] { JitErrorLogBuffer, JitErrorLogBufferSizeBytes, JitInfoLogBuffer, JitInfoLogBufferSizeBytes };
        void** values = stackalloc void*[] { errorLog, (void*)(nint)LogBytes, infoLog, (void*)(nint)LogBytes };
        int status;
        fixed (byte* p = image) status = cuModuleLoadDataEx(out module, p, 4, options, values);
        log = status == 0 ? "" : Marshal.PtrToStringUTF8((nint)errorLog) ?? "";
        return status;
    }

    public int ModuleUnload(nint module)
    {
        EnsureCurrent();
        return cuModuleUnload(module);
    }

    public int ModuleGetFunction(nint module, string name, out nint function)
    {
        EnsureCurrent();
        return cuModuleGetFunction(out function, module, name);
    }

    public int LaunchKernel(nint function, Dim3 grid, Dim3 block, uint sharedBytes, nint stream, void** args)
    {
        EnsureCurrent();
        return cuLaunchKernel(function, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, sharedBytes, stream, args, null);
    }

    public int StreamCreate(out nint stream)
    {
        EnsureCurrent();
        return cuStreamCreate(out stream, 0);
    }

    public int StreamDestroy(nint stream)
    {
        EnsureCurrent();
        return cuStreamDestroy(stream);
    }

    public int StreamSynchronize(nint stream)
    {
        EnsureCurrent();
        return cuStreamSynchronize(stream);
    }

    public int EventCreate(out nint evt)
    {
        EnsureCurrent();
        return cuEventCreate(out evt, 0);
    }

    public int EventDestroy(nint evt)
    {
        EnsureCurrent();
        return cuEventDestroy(evt);
    }

    public int EventRecord(nint evt, nint stream)
    {
        EnsureCurrent();
        return cuEventRecord(evt, stream);
    }

    public int EventSynchronize(nint evt)
    {
        EnsureCurrent();
        return cuEventSynchronize(evt);
    }

    public int EventElapsedTime(out float milliseconds, nint start, nint end)
    {
        EnsureCurrent();
        return cuEventElapsedTime(out milliseconds, start, end);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        cuDevicePrimaryCtxRelease(_device); // status ignored: Dispose must not throw
    }
}
