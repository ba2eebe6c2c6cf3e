using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Finetune.Kernels.Cpu;

/// <summary>
/// Per-thread packing memory: 64-byte aligned native blocks that grow on demand and are reused across calls,
/// freed when the owning thread's holder is collected.
/// </summary>
internal sealed unsafe class GemmBuffers
{
    [ThreadStatic] private static GemmBuffers? _current;
    public static GemmBuffers Current => _current ??= new GemmBuffers();

    private float* _a, _b, _row, _tile, _attention;
    private long _aSize, _bSize, _rowSize, _attentionSize;

    public float* A(long floats) => Ensure(ref _a, ref _aSize, floats);
    public float* B(long floats) => Ensure(ref _b, ref _bSize, floats);
    public float* Row(long floats) => Ensure(ref _row, ref _rowSize, floats);
    /// <summary>The fused attention kernels' per-task scratch (they run no GEMM while they hold it).</summary>
    public float* Attention(long floats) => Ensure(ref _attention, ref _attentionSize, floats);
    /// <summary>Scratch for one edge tile.</summary>
    public float* Tile => _tile != null ? _tile : _tile = (float*)NativeMemory.AlignedAlloc(64 * 64 * sizeof(float), 64);

    private static float* Ensure(ref float* p, ref long size, long floats)
    {
        if (size >= floats) return p;
        if (p != null) NativeMemory.AlignedFree(p);
        // Round up so slowly growing requests do not reallocate every call.
        long alloc = Math.Max(floats, size + size / 2);
        p = (float*)NativeMemory.AlignedAlloc((nuint)(alloc * sizeof(float)), 64);
        size = alloc;
        return p;
    }

    ~GemmBuffers()
    {
        if (_a != null) NativeMemory.AlignedFree(_a);
        if (_b != null) NativeMemory.AlignedFree(_b);
        if (_row != null) NativeMemory.AlignedFree(_row);
        if (_tile != null) NativeMemory.AlignedFree(_tile);
        if (_attention != null) NativeMemory.AlignedFree(_attention);
    }
}
