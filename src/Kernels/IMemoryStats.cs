namespace Finetune.Kernels;

/// <summary>Memory statistics a backend keeps (bytes).</summary>
public interface IMemoryStats
{
    /// <summary>Bytes held by live tensors.</summary>
    long AllocatedBytes { get; }

    /// <summary>The most <see cref="AllocatedBytes"/> has been since the last <see cref="ResetPeak"/>.</summary>
    long PeakBytes { get; }

    void ResetPeak();
}
