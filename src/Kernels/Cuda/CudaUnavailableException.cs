namespace Finetune.Kernels.Cuda;

/// <summary>The CUDA device cannot be used on this machine; <see cref="Exception.Message"/> says why.</summary>
public sealed class CudaUnavailableException : Exception
{
    public CudaUnavailableException(string reason) : base($"CUDA is not available: {reason}") => Reason = reason;

    /// <summary>Why, without the "CUDA is not available" prefix (what <see cref="CudaDevice.Probe(int)"/> reports).</summary>
    public string Reason { get; }

    /// <summary>The reason given when no driver library of <paramref name="tried"/> loads.</summary>
    public static string MissingDriver(string tried) => $"the NVIDIA driver library is missing ({tried}): install the NVIDIA driver";
}
