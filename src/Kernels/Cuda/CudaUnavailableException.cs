namespace Finetune.Kernels.Cuda;

/// <summary>The CUDA device cannot be used on this machine; <see cref="Exception.Message"/> says why.</summary>
public sealed class CudaUnavailableException : Exception
{
    public CudaUnavailableException(string reason) : base($"CUDA is not available: {reason}") { }
}
