using Finetune.Kernels;

namespace Finetune;

public sealed partial class Tensor
{
    /// <summary>Reduces one dim with keepdim semantics: x viewed as [outer, extent, inner].</summary>
    private Tensor ReduceDim(ReduceOp op, int d)
    {
        var x = IsContiguous ? this : ContiguousCopy();
        int outer = 1, inner = 1;
        for (int i = 0; i < d; i++) outer *= _shape[i];
        for (int i = d + 1; i < Rank; i++) inner *= _shape[i];
        var shape = (int[])_shape.Clone();
        shape[d] = 1;
        var y = Empty(shape, DType.Float32, Device);
        if (_shape[d] == 0)
            Backend.Fill(y.Dense, y.Count, op == ReduceOp.Sum ? 0f : float.NegativeInfinity);
        else
            Backend.Reduce(op, x.Dense, y.Dense, outer, _shape[d], inner);
        if (!ReferenceEquals(x, this)) x.Dispose();
        return y;
    }

    private int[] ReduceDims(string op, int[]? dims)
    {
        if (dims is null || dims.Length == 0) return Enumerable.Range(0, Rank).ToArray();
        var ds = dims.Select(d => NormalizeDim(op, d, Rank)).Distinct().OrderBy(d => d).ToArray();
        if (ds.Length != dims.Length) throw new ArgumentException($"{op}: repeated dim in [{string.Join(", ", dims)}]");
        return ds;
    }

    private static int[] KeptShape(int[] shape, int[] dims)
    {
        var s = (int[])shape.Clone();
        foreach (int d in dims) s[d] = 1;
        return s;
    }

    private static int[] DroppedShape(int[] shape, int[] dims) =>
        shape.Where((_, i) => Array.IndexOf(dims, i) < 0).ToArray();

    /// <summary>Sum over <paramref name="dims"/> (all dims when none are given).</summary>
    public Tensor Sum(int[]? dims = null, bool keepDim = false)
    {
        CheckFloat("sum", "input");
        var ds = ReduceDims("sum", dims);
        var y = this;
        foreach (int d in ds)
        {
            var next = y.ReduceDim(ReduceOp.Sum, d);
            y = ReferenceEquals(y, this) ? next : next.DisposeSource(y);
        }
        if (ReferenceEquals(y, this)) y = ContiguousCopy();
        var kept = KeptShape(_shape, ds);
        var outShape = keepDim ? kept : DroppedShape(_shape, ds);
        y = y.ViewOf(outShape, Layout.ContiguousStrides(outShape), 0).DisposeSource(y);
        var inputShape = _shape;
        return Finish(y, "sum", new[] { this }, g => new[] { g.Reshape(kept).Expand(inputShape) });
    }

    public Tensor Sum(int dim, bool keepDim = false) => Sum(new[] { dim }, keepDim);

    public Tensor Mean(int[]? dims = null, bool keepDim = false)
    {
        var ds = ReduceDims("mean", dims);
        long n = 1;
        foreach (int d in ds) n *= _shape[d];
        return Sum(ds, keepDim).Scale(1f / n);
    }

    public Tensor Mean(int dim, bool keepDim = false) => Mean(new[] { dim }, keepDim);

    /// <summary>Maximum over one dim. The gradient is shared equally among tied maxima.</summary>
    public Tensor Max(int dim, bool keepDim = false)
    {
        CheckFloat("max", "input");
        int d = NormalizeDim("max", dim, Rank);
        if (_shape[d] == 0) throw new ArgumentException($"max: dim {d} of {Describe()} is empty");
        var y = ReduceDim(ReduceOp.Max, d);
        var kept = (int[])y._shape.Clone();
        var outShape = keepDim ? kept : DroppedShape(_shape, new[] { d });
        var result = y.ViewOf(outShape, Layout.ContiguousStrides(outShape), 0);
        var x = this;
        return Finish(result, "max", new[] { this }, g =>
        {
            var mask = Eq(x, y);
            var count = mask.Sum(d, keepDim: true);
            return new[] { Mul(g.Reshape(kept), mask).Div(count) };
        }, x, y);
    }

    /// <summary>Maximum over all elements.</summary>
    public Tensor Max() => Flatten().Max(0);

    /// <summary>Returns this and frees <paramref name="source"/> when it is a different temporary.</summary>
    private Tensor DisposeSource(Tensor source)
    {
        if (!ReferenceEquals(source, this)) source.Dispose();
        return this;
    }
}
