namespace Finetune.Kernels;

/// <summary>
/// A block of memory owned by one backend, shared by every tensor view of it through a reference count.
/// Memory is freed deterministically when the last reference is released, never by the GC.
/// </summary>
public sealed class DeviceBuffer
{
    private static long _nextId;
    private int _refs = 1;

    internal DeviceBuffer(IBackend backend, nint pointer, long bytes)
    {
        Backend = backend;
        Pointer = pointer;
        Bytes = bytes;
        Id = Interlocked.Increment(ref _nextId);
    }

    /// <summary>Allocation order: a buffer with a larger id was allocated later.</summary>
    public long Id { get; }

    /// <summary>The id the next buffer will get.</summary>
    public static long NextId => Interlocked.Read(ref _nextId) + 1;

    public IBackend Backend { get; }

    /// <summary>Host address (CPU) or device address (CUDA). Valid until the last reference is released.</summary>
    public nint Pointer { get; private set; }

    public long Bytes { get; }

    public Device Device => Backend.Device;

    public bool IsReleased => Volatile.Read(ref _refs) <= 0;

    public int RefCount => Volatile.Read(ref _refs);

    public void Retain()
    {
        if (Interlocked.Increment(ref _refs) <= 1)
            throw new ObjectDisposedException(nameof(DeviceBuffer), "Retain on a buffer whose memory was already freed");
    }

    public void Release()
    {
        int left = Interlocked.Decrement(ref _refs);
        if (left == 0)
        {
            Backend.Free(this);
            Pointer = 0;
        }
        else if (left < 0)
        {
            throw new ObjectDisposedException(nameof(DeviceBuffer), "Release on a buffer whose memory was already freed");
        }
    }

    public unsafe Span<T> AsSpan<T>(long elementOffset, int length) where T : unmanaged
    {
        if (Device.Kind != DeviceKind.Cpu)
            throw new InvalidOperationException($"Host access to {Device} memory: copy it to the CPU first");
        if (IsReleased) throw new ObjectDisposedException(nameof(DeviceBuffer));
        return new Span<T>((T*)Pointer + elementOffset, length);
    }
}
