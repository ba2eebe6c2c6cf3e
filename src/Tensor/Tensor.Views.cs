using Finetune.Kernels;

namespace Finetune;

/// <summary>Views share memory with their source; their backward maps the gradient back through the same view.</summary>
public sealed partial class Tensor
{
    public bool ShapeEquals(Tensor other) => _shape.AsSpan().SequenceEqual(other._shape);

    /// <summary>Shape with one -1 inferred from the element count.</summary>
    private int[] ResolveShape(string op, int[] shape)
    {
        var result = (int[])shape.Clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < result.Length; i++)
        {
            if (result[i] == -1)
            {
                if (infer >= 0) throw new ArgumentException($"{op}: only one dimension can be -1 in {Shp(shape)}");
                infer = i;
            }
            else if (result[i] < 0) throw new ArgumentException($"{op}: invalid dimension {result[i]} in {Shp(shape)}");
            else known *= result[i];
        }
        if (infer >= 0)
        {
            if (known == 0 || Count % known != 0)
                throw new ArgumentException($"{op}: cannot view {Describe()} ({Count} elements) as {Shp(shape)}");
            result[infer] = (int)(Count / known);
        }
        if (CheckShape(op, result) != Count)
            throw new ArgumentException($"{op}: cannot view {Describe()} ({Count} elements) as {Shp(shape)} "
                + $"({CheckShape(op, result)} elements)");
        return result;
    }

    /// <summary>A view with a new shape; the tensor must be contiguous (use <see cref="Reshape"/> otherwise).</summary>
    public Tensor View(params int[] shape)
    {
        var newShape = ResolveShape("view", shape);
        if (!IsContiguous)
            throw new InvalidOperationException($"view: tensor {Describe()} with strides [{string.Join(", ", _strides)}] is not "
                + "contiguous; use Reshape() or Contiguous()");
        var inputShape = _shape;
        var y = ViewOf(newShape, Layout.ContiguousStrides(newShape), _offset);
        return Finish(y, "view", new[] { this }, g => new[] { g.Reshape(inputShape) });
    }

    /// <summary>A view when the memory allows, otherwise a contiguous copy.</summary>
    public Tensor Reshape(params int[] shape) => IsContiguous ? View(shape) : Contiguous().View(shape);

    public Tensor Flatten() => Reshape(-1);

    public Tensor Transpose(int dim0, int dim1)
    {
        int d0 = NormalizeDim("transpose", dim0, Rank), d1 = NormalizeDim("transpose", dim1, Rank);
        var perm = Enumerable.Range(0, Rank).ToArray();
        (perm[d0], perm[d1]) = (perm[d1], perm[d0]);
        return Permute(perm);
    }

    /// <summary>The transpose of the last two dims.</summary>
    public Tensor T => Transpose(-2, -1);

    public Tensor Permute(params int[] dims)
    {
        if (dims.Length != Rank)
            throw new ArgumentException($"permute: {dims.Length} dims given for a tensor of rank {Rank} {Describe()}");
        var seen = new bool[Rank];
        var shape = new int[Rank];
        var strides = new long[Rank];
        var inverse = new int[Rank];
        for (int i = 0; i < Rank; i++)
        {
            int d = NormalizeDim("permute", dims[i], Rank);
            if (seen[d]) throw new ArgumentException($"permute: dim {d} repeated in [{string.Join(", ", dims)}]");
            seen[d] = true;
            shape[i] = _shape[d];
            strides[i] = _strides[d];
            inverse[d] = i;
        }
        var y = ViewOf(shape, strides, _offset);
        return Finish(y, "permute", new[] { this }, g => new[] { g.Permute(inverse) });
    }

    /// <summary>Elements start..start+length of dimension <paramref name="dim"/>, as a view.</summary>
    public Tensor Narrow(int dim, int start, int length)
    {
        int d = NormalizeDim("narrow", dim, Rank);
        if (start < 0 || length < 0 || (long)start + length > _shape[d])
            throw new ArgumentOutOfRangeException(nameof(start), start,
                $"narrow: range [{start}, {(long)start + length}) is outside dim {d} of size {_shape[d]} in {Describe()}");
        var shape = (int[])_shape.Clone();
        shape[d] = length;
        var y = ViewOf(shape, (long[])_strides.Clone(), _offset + start * _strides[d]);
        var inputShape = _shape;
        return Finish(y, "narrow", new[] { this }, g =>
        {
            var gx = Full(inputShape, 0f, g.Device);
            using (var window = gx.NarrowNoGrad(d, start, length)) window.CopyFrom(g);
            return new[] { gx };
        });
    }

    /// <summary>Python-style slice of one dim: [start, end) with negative indices from the end.</summary>
    public Tensor Slice(int dim, int start, int end)
    {
        int size = Size(dim);
        int s = start < 0 ? start + size : start, e = end < 0 ? end + size : end;
        if (s < 0 || e > size || s > e)
            throw new ArgumentOutOfRangeException(nameof(start), start, $"slice: [{start}, {end}) is outside dim {dim} of size "
                + $"{size} in {Describe()}");
        return Narrow(dim, s, e - s);
    }

    private Tensor NarrowNoGrad(int d, int start, int length)
    {
        var shape = (int[])_shape.Clone();
        shape[d] = length;
        return ViewOf(shape, (long[])_strides.Clone(), _offset + start * _strides[d]);
    }

    /// <summary>Broadcasts size-1 dims (and new leading dims) to <paramref name="shape"/> without copying; -1 keeps a dim.</summary>
    public Tensor Expand(params int[] shape)
    {
        if (shape.Length < Rank)
            throw new ArgumentException($"expand: target {Shp(shape)} has fewer dims than {Describe()}");
        var newShape = new int[shape.Length];
        var strides = new long[shape.Length];
        int lead = shape.Length - Rank;
        for (int i = 0; i < shape.Length; i++)
        {
            int src = i - lead;
            int want = shape[i];
            if (src < 0)
            {
                if (want < 0) throw new ArgumentException($"expand: -1 is not allowed for the new leading dim {i} in {Shp(shape)}");
                newShape[i] = want;
                strides[i] = 0;
                continue;
            }
            int have = _shape[src];
            if (want == -1 || want == have)
            {
                newShape[i] = have;
                strides[i] = _strides[src];
            }
            else if (have == 1 && want >= 0)
            {
                newShape[i] = want;
                strides[i] = 0;
            }
            else throw new ArgumentException($"expand: cannot expand {Describe()} to {Shp(shape)}: dim {src} has size {have}, not 1");
        }
        var inputShape = _shape;
        var y = ViewOf(newShape, strides, _offset);
        return Finish(y, "expand", new[] { this }, g => new[] { g.SumTo(inputShape) });
    }

    public Tensor Unsqueeze(int dim)
    {
        int d = NormalizeDim("unsqueeze", dim, Rank + 1);
        var shape = _shape.ToList();
        var strides = _strides.ToList();
        shape.Insert(d, 1);
        strides.Insert(d, d < Rank ? _strides[d] * _shape[d] : 1);
        var y = ViewOf(shape.ToArray(), strides.ToArray(), _offset);
        return Finish(y, "unsqueeze", new[] { this }, g => new[] { g.Squeeze(d) });
    }

    /// <summary>Removes dimension <paramref name="dim"/>, which must have size 1.</summary>
    public Tensor Squeeze(int dim)
    {
        int d = NormalizeDim("squeeze", dim, Rank);
        if (_shape[d] != 1) throw new ArgumentException($"squeeze: dim {d} of {Describe()} has size {_shape[d]}, not 1");
        var shape = _shape.ToList();
        var strides = _strides.ToList();
        shape.RemoveAt(d);
        strides.RemoveAt(d);
        var y = ViewOf(shape.ToArray(), strides.ToArray(), _offset);
        return Finish(y, "squeeze", new[] { this }, g => new[] { g.Unsqueeze(d) });
    }

    /// <summary>This tensor when contiguous, otherwise a contiguous copy (differentiable).</summary>
    public Tensor Contiguous()
    {
        if (IsContiguous) return this;
        var y = ContiguousCopy();
        return Finish(y, "contiguous", new[] { this }, g => new[] { g });
    }

    /// <summary>A contiguous copy with its own memory (differentiable).</summary>
    public Tensor Clone()
    {
        var y = ContiguousCopy();
        return Finish(y, "clone", new[] { this }, g => new[] { g });
    }

    internal Tensor ContiguousCopy()
    {
        var y = Empty((int[])_shape.Clone(), DType, Device);
        Backend.Copy(DType, Strided, y.Strided);
        return y;
    }

    /// <summary>Copies <paramref name="source"/>'s values into this view (outside autograd).</summary>
    internal void CopyFrom(Tensor source)
    {
        if (!source.ShapeEquals(this))
            throw new ArgumentException($"copy: source {source.Describe()} does not match destination {Describe()}");
        CheckSameDevice("copy", this, source);
        if (source.DType != DType) throw new ArgumentException($"copy: source is {source.DType.Name()}, destination {DType.Name()}");
        Backend.Copy(DType, source.Strided, Strided);
    }
}
