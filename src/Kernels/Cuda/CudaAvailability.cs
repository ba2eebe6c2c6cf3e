
namespace Finetune.Kernels.Cuda;

/// <summary>Whether a GPU can be used, and if not, why (driver library missing, no device, driver too old, ...).</summary>
public sealed record CudaAvailability(bool Available, string Reason, CudaDeviceInfo? Info);
