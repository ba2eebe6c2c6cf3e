namespace Finetune.Kernels;

/// <summary>Shape, strides (in elements) and offset of a strided view into a buffer.</summary>
public readonly record struct Layout(int[] Shape, long[] Strides, long Offset)
{
    public int Rank => Shape.Length;

    public long Count
    {
        get
        {
            long n = 1;
            foreach (int d in Shape) n *= d;
            return n;
        }
    }

    public static long[] ContiguousStrides(ReadOnlySpan<int> shape)
    {
        var strides = new long[shape.Length];
        long s = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = s;
            s *= shape[i];
        }
        return strides;
    }

    public static Layout Contiguous(int[] shape, long offset = 0) => new(shape, ContiguousStrides(shape), offset);

    public bool IsContiguous
    {
        get
        {
            long s = 1;
            for (int i = Shape.Length - 1; i >= 0; i--)
            {
                if (Shape[i] != 1 && Strides[i] != s) return false;
                s *= Shape[i];
            }
            return true;
        }
    }

    public override string ToString() => $"[{string.Join(", ", Shape)}]";
}
