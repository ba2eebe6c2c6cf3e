using System.Runtime.InteropServices;

namespace Finetune.Kernels.Cuda;

/// <summary>Kernel arguments in native memory: each value in its own aligned slot, and the void** array cuLaunchKernel reads.</summary>
internal sealed unsafe class ArgPack : IDisposable
{
    private const int DataBytes = 4096, MaxArgs = 32;

    private byte* _data = (byte*)NativeMemory.AlignedAlloc(DataBytes, 16);
    private readonly void** _pointers = (void**)NativeMemory.Alloc(MaxArgs, (nuint)sizeof(void*));
    private int _used;

    public int Count { get; private set; }

    public void** Pointers => _pointers;

    public void Reset()
    {
        _used = 0;
        Count = 0;
    }

    public ArgPack Add<T>(T value) where T : unmanaged
    {
        int align = Math.Min(sizeof(T), 16);
        int at = (_used + align - 1) / align * align;
        if (at + sizeof(T) > DataBytes || Count == MaxArgs)
            throw new InvalidOperationException("kernel arguments exceed the argument buffer");
        *(T*)(_data + at) = value;
        _pointers[Count++] = _data + at;
        _used = at + sizeof(T);
        return this;
    }

    public void Dispose()
    {
        if (_data == null) return;
        NativeMemory.AlignedFree(_data);
        NativeMemory.Free(_pointers);
        _data = null;
    }
}
