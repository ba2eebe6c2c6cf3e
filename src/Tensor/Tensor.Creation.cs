using Finetune.Kernels;

namespace Finetune;

public sealed partial class Tensor
{
    public static Tensor Zeros(params int[] shape) => Full(shape, 0f, Device.Cpu);

    public static Tensor Zeros(int[] shape, Device device) => Full(shape, 0f, device);

    public static Tensor Ones(params int[] shape) => Full(shape, 1f, Device.Cpu);

    public static Tensor Ones(int[] shape, Device device) => Full(shape, 1f, device);

    public static Tensor Full(int[] shape, float value, Device? device = null)
    {
        var t = Empty((int[])shape.Clone(), DType.Float32, device ?? Device.Cpu);
        t.Backend.Fill(t.Dense, t.Count, value);
        return t;
    }

    /// <summary>A zero-dimensional tensor holding one value.</summary>
    public static Tensor Scalar(float value, Device? device = null) => Full(Array.Empty<int>(), value, device);

    /// <summary>0, 1, …, n-1 as float32.</summary>
    public static Tensor Arange(int n, Device? device = null)
    {
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, "arange: n must not be negative");
        var values = new float[n];
        for (int i = 0; i < n; i++) values[i] = i;
        return FromArray(values, new[] { n }, device);
    }

    public static Tensor FromArray(float[] data, params int[] shape) => FromArray(data, shape, null);

    public static Tensor FromArray(float[] data, int[] shape, Device? device) => FromHost<float>(data, shape, DType.Float32, device);

    /// <summary>An int32 tensor (ids, class targets).</summary>
    public static Tensor FromArray(int[] data, params int[] shape) => FromArray(data, shape, null);

    public static Tensor FromArray(int[] data, int[] shape, Device? device) => FromHost<int>(data, shape, DType.Int32, device);

    private static Tensor FromHost<T>(T[] data, int[] shape, DType dtype, Device? device) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(data);
        shape = shape.Length == 0 && data.Length != 1 ? new[] { data.Length } : (int[])shape.Clone();
        long count = CheckShape("from_array", shape);
        if (count != data.Length)
            throw new ArgumentException($"from_array: {data.Length} values do not fill shape {Shp(shape)} ({count} elements)");
        var t = Empty(shape, dtype, device ?? Device.Cpu);
        t.Backend.CopyFromHost<T>(data, t.Dense);
        return t;
    }

    public static Tensor Uniform(int[] shape, float low = 0f, float high = 1f, Generator? generator = null, Device? device = null)
    {
        if (!(high >= low)) throw new ArgumentException($"uniform: high ({high}) must be >= low ({low})");
        var t = Empty((int[])shape.Clone(), DType.Float32, device ?? Device.Cpu);
        var g = generator ?? Generator.Default;
        t.Backend.RandomUniform(g.Seed, g.Reserve(t.Count), t.Count, low, high, t.Dense);
        return t;
    }

    public static Tensor Normal(int[] shape, float mean = 0f, float std = 1f, Generator? generator = null, Device? device = null)
    {
        if (!(std >= 0)) throw new ArgumentException($"normal: std ({std}) must be >= 0");
        var t = Empty((int[])shape.Clone(), DType.Float32, device ?? Device.Cpu);
        var g = generator ?? Generator.Default;
        t.Backend.RandomNormal(g.Seed, g.Reserve(t.Count), t.Count, mean, std, t.Dense);
        return t;
    }

    /// <summary>A zeroed float tensor of this one's shape on its device.</summary>
    public Tensor ZerosLike() => Full(_shape, 0f, Device);

    /// <summary>Copies the values to the host in row-major order (a device copy for CUDA).</summary>
    public float[] ToArray()
    {
        if (DType != DType.Float32) throw new InvalidOperationException($"to_array: tensor is {DType.Name()}; use ToIntArray()");
        return ToHost<float>();
    }

    public int[] ToIntArray()
    {
        if (DType != DType.Int32) throw new InvalidOperationException($"to_int_array: tensor is {DType.Name()}; use ToArray()");
        return ToHost<int>();
    }

    private T[] ToHost<T>() where T : unmanaged
    {
        using var c = IsContiguous ? null : ContiguousCopy();
        var src = c ?? this;
        var result = new T[checked((int)Count)];
        Backend.CopyToHost<T>(src.Dense, result);
        return result;
    }

    /// <summary>The value of a one-element tensor.</summary>
    public float Item()
    {
        if (Count != 1) throw new InvalidOperationException($"item: tensor {Describe()} has {Count} elements, not 1");
        return ToArray()[0];
    }

    /// <summary>A copy on <paramref name="device"/> (this tensor itself when it is already there). Gradients flow back.</summary>
    public Tensor To(Device device)
    {
        if (device == Device) return this;
        var src = IsContiguous ? this : ContiguousCopy();
        var dst = Empty((int[])_shape.Clone(), DType, device);
        var host = new byte[Count * DType.SizeOf()];
        src.Backend.CopyToHost<byte>(new Dense(src.Buffer, src._offset * DType.SizeOf()), host);
        dst.Backend.CopyFromHost<byte>(host, new Dense(dst.Buffer, 0));
        if (!ReferenceEquals(src, this)) src.Dispose();
        var from = Device;
        return Finish(dst, "to", new[] { this }, g => new[] { g.To(from) });
    }
}
