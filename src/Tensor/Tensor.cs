using System.Runtime.CompilerServices;
using Finetune.Kernels;

namespace Finetune;

/// <summary>
/// An n-dimensional strided view of device memory with reverse-mode autograd. Views share a refcounted
/// buffer; <see cref="Dispose"/> releases this view's reference, and the enclosing <see cref="TensorScope"/>
/// disposes every tensor created inside it that was not kept.
/// </summary>
public sealed partial class Tensor : IDisposable
{
    private DeviceBuffer? _buffer;
    internal readonly int[] _shape;
    internal readonly long[] _strides;
    internal readonly long _offset;
    private bool _requiresGrad;
    internal bool Kept;

    internal Tensor(DeviceBuffer buffer, int[] shape, long[] strides, long offset, DType dtype)
    {
        _buffer = buffer;
        _shape = shape;
        _strides = strides;
        _offset = offset;
        DType = dtype;
        TensorScope.Track(this);
    }

    /// <summary>A new contiguous tensor over fresh, uninitialised memory.</summary>
    internal static Tensor Empty(int[] shape, DType dtype, Device device)
    {
        long count = CheckShape("empty", shape);
        var buffer = Backends.For(device).Allocate(count * dtype.SizeOf());
        return new Tensor(buffer, shape, Layout.ContiguousStrides(shape), 0, dtype);
    }

    /// <summary>A new view over the same memory (retains the buffer).</summary>
    internal Tensor ViewOf(int[] shape, long[] strides, long offset)
    {
        var buffer = Buffer;
        buffer.Retain();
        return new Tensor(buffer, shape, strides, offset, DType);
    }

    public DType DType { get; }

    public Device Device => Buffer.Device;

    public IReadOnlyList<int> Shape => _shape;

    public IReadOnlyList<long> Strides => _strides;

    public long Offset => _offset;

    public int Rank => _shape.Length;

    public long Count
    {
        get
        {
            long n = 1;
            foreach (int d in _shape) n *= d;
            return n;
        }
    }

    /// <summary>Size of dimension <paramref name="dim"/>; negative dims count from the end.</summary>
    public int Size(int dim) => _shape[NormalizeDim("size", dim, Rank)];

    public bool IsContiguous => Layout.IsContiguous;

    public bool IsDisposed => _buffer is null;

    /// <summary>Optional name used in error messages and by the NaN finder.</summary>
    public string? Name { get; set; }

    /// <summary>Accumulated gradient of a leaf that requires grad.</summary>
    public Tensor? Grad { get; internal set; }

    internal Autograd.Node? GradFn { get; set; }

    public bool IsLeaf => GradFn is null;

    public bool RequiresGrad
    {
        get => _requiresGrad;
        set
        {
            if (value && DType != DType.Float32)
                throw new InvalidOperationException($"requires_grad: only float32 tensors can require gradients, not {DType.Name()}");
            if (!IsLeaf && !value)
                throw new InvalidOperationException("requires_grad: cannot turn off gradients of a non-leaf tensor; use Detach()");
            _requiresGrad = value;
        }
    }

    internal DeviceBuffer Buffer => _buffer ?? throw new ObjectDisposedException(nameof(Tensor), $"tensor {Describe()} was disposed (its "
        + "scope ended or Dispose was called)");

    /// <summary>The backend of this tensor's memory, seen through the profiler's dispatch point.</summary>
    internal IBackend Backend => Kernels.Profiling.KernelProfiler.Dispatch(Buffer.Backend);

    internal Layout Layout => new(_shape, _strides, _offset);

    internal Strided Strided => new(Buffer, Layout);

    /// <summary>The dense run of a contiguous tensor.</summary>
    internal Dense Dense
    {
        get
        {
            if (!IsContiguous) throw new InvalidOperationException($"internal: dense access to a non-contiguous tensor {Describe()}");
            return new Dense(Buffer, _offset);
        }
    }

    /// <summary>Removes this tensor from its scope: the caller now owns it and disposes it.</summary>
    public Tensor Keep()
    {
        Kept = true;
        return this;
    }

    public void Dispose()
    {
        var buffer = _buffer;
        if (buffer is null) return;
        _buffer = null;
        buffer.Release();
        Grad?.Dispose();
        Grad = null;
    }

    /// <summary>Drops the accumulated gradient.</summary>
    public void ZeroGrad()
    {
        Grad?.Dispose();
        Grad = null;
    }

    public string Describe() => $"[{string.Join(", ", _shape)}]";

    public override string ToString() =>
        $"Tensor{(Name is null ? "" : " '" + Name + "'")}{Describe()} {DType.Name()} on "
            + $"{(_buffer is null ? "(disposed)" : Device.ToString())}{(RequiresGrad ? ", requires_grad" : "")}";

    internal static int NormalizeDim(string op, int dim, int rank)
    {
        int d = dim < 0 ? dim + rank : dim;
        if (d < 0 || d >= rank)
            throw new ArgumentOutOfRangeException(nameof(dim), dim, $"{op}: dim {dim} is out of range for a tensor of rank {rank}");
        return d;
    }

    internal static long CheckShape(string op, int[] shape)
    {
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"{op}: negative dimension {d} in shape [{string.Join(", ", shape)}]");
            n = checked(n * d);
        }
        return n;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static string Shp(IReadOnlyList<int> shape) => $"[{string.Join(", ", shape)}]";
}
