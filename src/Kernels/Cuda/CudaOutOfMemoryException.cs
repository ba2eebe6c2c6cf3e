namespace Finetune.Kernels.Cuda;

/// <summary>Device memory ran out even after the allocator returned its cached blocks to the driver.</summary>
public sealed class CudaOutOfMemoryException : CudaException
{
    public CudaOutOfMemoryException(string call, string? detail, long requestedBytes = 0, long inUseBytes = 0, long cacheReleasedBytes = 0)
        : base(call, CudaStatus.OutOfMemory, "CUDA_ERROR_OUT_OF_MEMORY", detail)
    {
        RequestedBytes = requestedBytes;
        InUseBytes = inUseBytes;
        CacheReleasedBytes = cacheReleasedBytes;
    }

    /// <summary>The size-class rounded request that failed (0 when the failing call was not an allocation).</summary>
    public long RequestedBytes { get; }

    /// <summary>Bytes held by live tensors when it failed.</summary>
    public long InUseBytes { get; }

    /// <summary>Cached blocks the allocator gave back to the driver before its retry.</summary>
    public long CacheReleasedBytes { get; }
}
