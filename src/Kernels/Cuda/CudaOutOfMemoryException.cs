namespace Finetune.Kernels.Cuda;

/// <summary>Device memory ran out even after the allocator returned its cached blocks to the driver.</summary>
public sealed class CudaOutOfMemoryException : CudaException
{
    public CudaOutOfMemoryException(string call, string? detail)
        : base(call, CudaStatus.OutOfMemory, "CUDA_ERROR_OUT_OF_MEMORY", detail) { }
}
