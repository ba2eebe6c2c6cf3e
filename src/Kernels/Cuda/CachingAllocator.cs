namespace Finetune.Kernels.Cuda;

/// <summary>
/// Device memory with reuse: freed blocks go to a free list per size class and serve the next request of that
/// class without a driver call. Classes are 512-byte multiples up to 1 MiB and 2 MiB multiples above. When the
/// driver runs out, the cache is returned to it and the request retried once before
/// <see cref="CudaOutOfMemoryException"/> is thrown. Not thread-safe: the backend serialises calls.
/// </summary>
public sealed class CachingAllocator
{
    private const long SmallGranule = 512, LargeGranule = 2L << 20, SmallLimit = 1L << 20;

    private readonly ICudaDriver _driver;
    private readonly string _deviceName;
    private readonly Dictionary<long, Stack<ulong>> _cached = new();
    private readonly Dictionary<ulong, long> _live = new();

    public CachingAllocator(ICudaDriver driver, string deviceName)
    {
        _driver = driver;
        _deviceName = deviceName;
    }

    /// <summary>Bytes in blocks handed out (size-class rounded).</summary>
    public long AllocatedBytes { get; private set; }

    /// <summary>Bytes obtained from the driver: allocated plus cached.</summary>
    public long ReservedBytes { get; private set; }

    public long PeakAllocatedBytes { get; private set; }

    /// <summary>Successful driver allocations (cache misses) since creation.</summary>
    public long DeviceAllocations { get; private set; }

    /// <summary>Requests served from the cache.</summary>
    public long CacheHits { get; private set; }

    public long CachedBytes => ReservedBytes - AllocatedBytes;

    public static long SizeClass(long bytes)
    {
        if (bytes < 0) throw new ArgumentOutOfRangeException(nameof(bytes), bytes, "allocation size must not be negative");
        long granule = bytes <= SmallLimit ? SmallGranule : LargeGranule;
        return Math.Max(granule, (bytes + granule - 1) / granule * granule);
    }

    public ulong Allocate(long bytes)
    {
        long size = SizeClass(bytes);
        ulong address;
        if (_cached.TryGetValue(size, out var stack) && stack.Count > 0)
        {
            address = stack.Pop();
            CacheHits++;
        }
        else
        {
            int status = _driver.MemAlloc(out address, size);
            if (status == CudaStatus.OutOfMemory && CachedBytes > 0)
            {
                EmptyCache();
                status = _driver.MemAlloc(out address, size);
            }
            if (status == CudaStatus.OutOfMemory)
            {
                _driver.MemGetInfo(out long free, out long total);
                throw new CudaOutOfMemoryException("cuMemAlloc",
                    $"{_deviceName} cannot allocate {Format(size)} ({Format(AllocatedBytes)} in use by tensors, {Format(free)} free of {Format(total)})");
            }
            CudaException.Check(status, "cuMemAlloc", $"{Format(size)} on {_deviceName}");
            ReservedBytes += size;
            DeviceAllocations++;
        }
        _live.Add(address, size);
        AllocatedBytes += size;
        PeakAllocatedBytes = Math.Max(PeakAllocatedBytes, AllocatedBytes);
        return address;
    }

    public void Free(ulong address)
    {
        if (!_live.Remove(address, out long size))
            throw new InvalidOperationException($"{_deviceName}: free of 0x{address:x}, which this allocator did not hand out or already took back");
        AllocatedBytes -= size;
        if (!_cached.TryGetValue(size, out var stack)) _cached[size] = stack = new Stack<ulong>();
        stack.Push(address);
    }

    /// <summary>Returns every cached block to the driver.</summary>
    public void EmptyCache()
    {
        foreach (var (size, stack) in _cached)
        {
            while (stack.Count > 0)
            {
                CudaException.Check(_driver.MemFree(stack.Pop()), "cuMemFree");
                ReservedBytes -= size;
            }
        }
    }

    public void ResetPeak() => PeakAllocatedBytes = AllocatedBytes;

    internal static string Format(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.##} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.##} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:0.##} KiB",
        _ => $"{bytes} B",
    };
}
