namespace Finetune.Kernels.Cuda;

/// <summary>Device memory straight from the driver, for the <see cref="CachingAllocator"/>.</summary>
internal sealed class CudaRawMemory(ICudaDriver driver, string deviceName) : IRawMemory
{
    public bool TryAllocate(long bytes, out ulong address)
    {
        int status = driver.MemAlloc(out address, bytes);
        if (status == CudaStatus.OutOfMemory) return false;
        CudaException.Check(status, "cuMemAlloc", $"{CachingAllocator.Format(bytes)} on {deviceName}");
        return true;
    }

    public void Free(ulong address) => CudaException.Check(driver.MemFree(address), "cuMemFree");

    public Exception OutOfMemory(long bytes, long inUseByTensors, long cacheReleased)
    {
        driver.MemGetInfo(out long free, out long total);
        return new CudaOutOfMemoryException("cuMemAlloc",
            $"{deviceName} cannot allocate {CachingAllocator.Format(bytes)} "
            + $"({CachingAllocator.Format(inUseByTensors)} in use by tensors; "
            + $"the allocator's cache of {CachingAllocator.Format(cacheReleased)} was returned to the driver before retrying; "
            + $"{CachingAllocator.Format(free)} free of {CachingAllocator.Format(total)})", bytes, inUseByTensors, cacheReleased);
    }
}
