namespace Finetune.Kernels;

/// <summary>
/// Memory with reuse: freed blocks go to a free list per size class and serve the next request of that class
/// without asking the raw source (no driver call, no page faults on fresh host pages). Classes are 512-byte
/// multiples up to 1 MiB and 2 MiB multiples above. When the source runs out, the cache is returned to it and
/// the request retried once. Not thread-safe: backends serialise calls.
/// </summary>
public sealed class CachingAllocator
{
    private const long SmallGranule = 512, LargeGranule = 2L << 20, SmallLimit = 1L << 20;

    private readonly IRawMemory _raw;
    private readonly string _deviceName;
    private readonly Dictionary<long, Stack<ulong>> _cached = new();
    private readonly Dictionary<ulong, long> _live = new();

    public CachingAllocator(IRawMemory raw, string deviceName, long maxCachedBytes = long.MaxValue)
    {
        _raw = raw;
        _deviceName = deviceName;
        MaxCachedBytes = maxCachedBytes;
    }

    /// <summary>Freed blocks beyond this many cached bytes go straight back to the source.</summary>
    public long MaxCachedBytes { get; }

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
            bool ok = _raw.TryAllocate(size, out address);
            long released = 0;
            if (!ok && CachedBytes > 0)
            {
                released = CachedBytes;
                EmptyCache();
                ok = _raw.TryAllocate(size, out address);
            }
            if (!ok) throw _raw.OutOfMemory(size, AllocatedBytes, released);
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
            throw new InvalidOperationException($"{_deviceName}: free of 0x{address:x}, which this allocator did not hand out "
                + "or already took back");
        AllocatedBytes -= size;
        if (CachedBytes + size > MaxCachedBytes)
        {
            _raw.Free(address);
            ReservedBytes -= size;
            return;
        }
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
                _raw.Free(stack.Pop());
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
