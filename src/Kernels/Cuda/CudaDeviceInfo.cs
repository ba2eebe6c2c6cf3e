namespace Finetune.Kernels.Cuda;

/// <summary>What the backend needs to know about a device.</summary>
public sealed record CudaDeviceInfo(string Name, int Multiprocessors, long TotalMemory, int ComputeMajor, int ComputeMinor,
    int MaxThreadsPerBlock, double PeakBandwidthGBs)
{
    public string ComputeCapability => $"{ComputeMajor}.{ComputeMinor}";
}
