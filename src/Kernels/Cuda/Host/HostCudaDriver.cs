using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Finetune.Kernels.Cuda.Host;

/// <summary>
/// The host device: a CUDA driver whose "device memory" is native host memory (with a capacity, so
/// out-of-memory can be tested) and whose kernels are kernels.cu compiled for the CPU into
/// libfinetune_hostcuda.so by tools/build-host-kernels.sh. Every call returns the CUresult the real driver
/// would, and copies are checked against live allocations like the hardware's address checks.
/// </summary>
public sealed unsafe class HostCudaDriver : ICudaDriver
{
    public const string LibraryFileName = "libfinetune_hostcuda.so";

    private readonly nint _library;
    private readonly delegate* unmanaged<int, uint, uint, uint, uint, uint, uint, uint, void**, int> _launch;
    private readonly delegate* unmanaged<byte*> _lastError;
    private readonly Dictionary<string, int> _kernels = new(StringComparer.Ordinal);
    private readonly SortedList<ulong, long> _allocations = new();
    private readonly Dictionary<nint, long> _events = new();
    private readonly object _gate = new();
    private long _used;
    private nint _nextHandle = 1;
    private bool _disposed;

    /// <param name="libraryPath">The built host kernels; <see cref="DefaultLibraryPath"/> when null.</param>
    /// <param name="memoryBytes">Capacity of the simulated device memory.</param>
    public HostCudaDriver(string? libraryPath = null, long memoryBytes = 4L << 30)
    {
        libraryPath ??= DefaultLibraryPath;
        if (!File.Exists(libraryPath))
            throw new CudaUnavailableException($"host device kernels {libraryPath} are missing: build them with "
                + "tools/build-host-kernels.sh (needs g++)");
        _library = NativeLibrary.Load(libraryPath);
        _launch = (delegate* unmanaged<int, uint, uint, uint, uint, uint, uint, uint, void**, int>)NativeLibrary.GetExport(_library,
            "ft_host_launch");
        _lastError = (delegate* unmanaged<byte*>)NativeLibrary.GetExport(_library, "ft_host_last_error");
        var count = (delegate* unmanaged<int>)NativeLibrary.GetExport(_library, "ft_host_kernel_count");
        var name = (delegate* unmanaged<int, byte*>)NativeLibrary.GetExport(_library, "ft_host_kernel_name");
        var parameters = (delegate* unmanaged<int, int>)NativeLibrary.GetExport(_library, "ft_host_kernel_params");
        for (int i = 0; i < count(); i++)
        {
            string kernel = Marshal.PtrToStringUTF8((nint)name(i))!;
            _kernels[kernel] = i;
            KernelParams[kernel] = parameters(i);
        }
        Info = new CudaDeviceInfo("host device (kernels.cu on the CPU)", Environment.ProcessorCount, memoryBytes, 8, 0, 1024, 0);
    }

    public static string DefaultLibraryPath => Path.Combine(AppContext.BaseDirectory, LibraryFileName);

    /// <summary>Parameter count of each kernel in the launcher table (checked against the PTX by the tests).</summary>
    public Dictionary<string, int> KernelParams { get; } = new(StringComparer.Ordinal);

    public string Kind => "host device";

    public CudaDeviceInfo Info { get; }

    public string LastLaunchDetail { get; private set; } = "";

    public int MemAlloc(out ulong address, long bytes)
    {
        address = 0;
        if (bytes <= 0) return CudaStatus.InvalidValue;
        lock (_gate)
        {
            if (_used + bytes > Info.TotalMemory) return CudaStatus.OutOfMemory;
            address = (ulong)NativeMemory.AlignedAlloc((nuint)bytes, 256);
            _allocations.Add(address, bytes);
            _used += bytes;
        }
        return CudaStatus.Success;
    }

    public int MemFree(ulong address)
    {
        lock (_gate)
        {
            if (!_allocations.Remove(address, out long bytes)) return CudaStatus.InvalidValue;
            _used -= bytes;
        }
        NativeMemory.AlignedFree((void*)address);
        return CudaStatus.Success;
    }

    public int MemGetInfo(out long free, out long total)
    {
        lock (_gate)
        {
            total = Info.TotalMemory;
            free = total - _used;
        }
        return CudaStatus.Success;
    }

    /// <summary>True when [address, address+bytes) lies inside one live allocation.</summary>
    private bool IsDeviceRange(ulong address, long bytes)
    {
        lock (_gate)
        {
            var keys = _allocations.Keys;
            int lo = 0, hi = keys.Count - 1, found = -1;
            while (lo <= hi)
            {
                int mid = (lo + hi) >>> 1;
                if (keys[mid] <= address) { found = mid; lo = mid + 1; }
                else hi = mid - 1;
            }
            return found >= 0 && address + (ulong)bytes <= keys[found] + (ulong)_allocations.Values[found];
        }
    }

    public int CopyHostToDevice(ulong destination, void* source, long bytes)
    {
        if (bytes == 0) return CudaStatus.Success;
        if (bytes < 0 || !IsDeviceRange(destination, bytes)) return CudaStatus.InvalidValue;
        Buffer.MemoryCopy(source, (void*)destination, bytes, bytes);
        return CudaStatus.Success;
    }

    public int CopyDeviceToHost(void* destination, ulong source, long bytes)
    {
        if (bytes == 0) return CudaStatus.Success;
        if (bytes < 0 || !IsDeviceRange(source, bytes)) return CudaStatus.InvalidValue;
        Buffer.MemoryCopy((void*)source, destination, bytes, bytes);
        return CudaStatus.Success;
    }

    public int CopyDeviceToDevice(ulong destination, ulong source, long bytes)
    {
        if (bytes == 0) return CudaStatus.Success;
        if (bytes < 0 || !IsDeviceRange(source, bytes) || !IsDeviceRange(destination, bytes)) return CudaStatus.InvalidValue;
        Buffer.MemoryCopy((void*)source, (void*)destination, bytes, bytes);
        return CudaStatus.Success;
    }

    // The host device executes in order at once, so asynchronous copies complete before they return.
    public int CopyHostToDeviceAsync(ulong destination, void* source, long bytes, nint stream) =>
        CopyHostToDevice(destination, source, bytes);

    public int CopyDeviceToHostAsync(void* destination, ulong source, long bytes, nint stream) =>
        CopyDeviceToHost(destination, source, bytes);

    public int MemsetD32(ulong destination, uint value, long count)
    {
        if (count == 0) return CudaStatus.Success;
        if (count < 0 || !IsDeviceRange(destination, count * 4)) return CudaStatus.InvalidValue;
        new Span<uint>((void*)destination, checked((int)count)).Fill(value);
        return CudaStatus.Success;
    }

    public int ModuleLoadPtx(string ptx, out nint module, out string log)
    {
        module = 0;
        // The JIT's first checks: the directives every PTX module starts with.
        foreach (var directive in new[] { ".version", ".target", ".address_size" })
        {
            if (!ptx.Contains(directive, StringComparison.Ordinal))
            {
                log = $"ptxas fatal: module has no {directive} directive (not PTX)";
                return CudaStatus.InvalidPtx;
            }
        }
        log = "";
        lock (_gate) module = _nextHandle++;
        return CudaStatus.Success;
    }

    public int ModuleUnload(nint module) => module == 0 ? CudaStatus.InvalidValue : CudaStatus.Success;

    public int ModuleGetFunction(nint module, string name, out nint function)
    {
        function = _kernels.TryGetValue(name, out int index) ? index + 1 : 0;
        return module == 0 ? CudaStatus.InvalidValue : function == 0 ? CudaStatus.NotFound : CudaStatus.Success;
    }

    public int LaunchKernel(nint function, Dim3 grid, Dim3 block, uint sharedBytes, nint stream, void** args)
    {
        int status = _launch((int)function - 1, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, sharedBytes, args);
        LastLaunchDetail = status == CudaStatus.Success ? "" : Marshal.PtrToStringUTF8((nint)_lastError()) ?? "";
        return status;
    }

    public int StreamCreate(out nint stream)
    {
        lock (_gate) stream = _nextHandle++;
        return CudaStatus.Success;
    }

    public int StreamDestroy(nint stream) => stream == 0 ? CudaStatus.InvalidValue : CudaStatus.Success;

    public int StreamSynchronize(nint stream) => CudaStatus.Success;

    public int EventCreate(out nint evt)
    {
        lock (_gate)
        {
            evt = _nextHandle++;
            _events[evt] = -1;
        }
        return CudaStatus.Success;
    }

    public int EventDestroy(nint evt)
    {
        lock (_gate) return _events.Remove(evt) ? CudaStatus.Success : CudaStatus.InvalidValue;
    }

    public int EventRecord(nint evt, nint stream)
    {
        lock (_gate)
        {
            if (!_events.ContainsKey(evt)) return CudaStatus.InvalidValue;
            _events[evt] = Stopwatch.GetTimestamp();
        }
        return CudaStatus.Success;
    }

    public int EventSynchronize(nint evt)
    {
        lock (_gate) return _events.ContainsKey(evt) ? CudaStatus.Success : CudaStatus.InvalidValue;
    }

    public int EventElapsedTime(out float milliseconds, nint start, nint end)
    {
        milliseconds = 0;
        lock (_gate)
        {
            if (!_events.TryGetValue(start, out long t0) || !_events.TryGetValue(end, out long t1)) return CudaStatus.InvalidValue;
            if (t0 < 0 || t1 < 0) return 600; // CUDA_ERROR_NOT_READY: an event was never recorded
            milliseconds = (float)Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds;
        }
        return CudaStatus.Success;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        lock (_gate)
        {
            foreach (var address in _allocations.Keys) NativeMemory.AlignedFree((void*)address);
            _allocations.Clear();
            _used = 0;
        }
        // The library stays loaded: other host devices in the process share it.
    }
}
