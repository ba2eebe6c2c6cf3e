namespace Finetune.Kernels;

/// <summary>Where a <see cref="CachingAllocator"/> gets its blocks: the CUDA driver, or host memory.</summary>
public interface IRawMemory
{
    /// <summary>Allocates <paramref name="bytes"/>; false when the memory is exhausted (other failures throw).</summary>
    bool TryAllocate(long bytes, out ulong address);

    void Free(ulong address);

    /// <summary>
    /// The exception for a request that still fails after the cache was emptied (<paramref name="cacheReleased"/> bytes of
    /// cached blocks went back to the source for the retry; 0 when nothing was cached).
    /// </summary>
    Exception OutOfMemory(long bytes, long inUseByTensors, long cacheReleased);
}
