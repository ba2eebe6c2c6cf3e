using System.Runtime.InteropServices;

namespace Finetune.Kernels.Cpu;

/// <summary>64-byte aligned native host memory (never the GC heap), for the CPU backend's <see cref="CachingAllocator"/>.</summary>
internal sealed unsafe class HostRawMemory : IRawMemory
{
    public bool TryAllocate(long bytes, out ulong address)
    {
        try
        {
            address = (ulong)NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 1), 64);
            return true;
        }
        catch (OutOfMemoryException)
        {
            address = 0;
            return false;
        }
    }

    public void Free(ulong address) => NativeMemory.AlignedFree((void*)address);

    public Exception OutOfMemory(long bytes, long inUseByTensors, long cacheReleased) =>
        new OutOfMemoryException($"cpu: cannot allocate {CachingAllocator.Format(bytes)} of host memory "
            + $"({CachingAllocator.Format(inUseByTensors)} in use by tensors)");
}
