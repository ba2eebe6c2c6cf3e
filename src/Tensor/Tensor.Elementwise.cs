using Finetune.Kernels;

namespace Finetune;

public sealed partial class Tensor
{
    internal static void CheckSameDevice(string op, Tensor a, Tensor b)
    {
        if (a.Device != b.Device)
            throw new ArgumentException($"{op}: tensors are on different devices: {a.Describe()} on {a.Device}, {b.Describe()} on "
                + $"{b.Device}; move one with To()");
    }

    internal void CheckFloat(string op, string argument)
    {
        if (DType != DType.Float32)
            throw new ArgumentException($"{op}: {argument} must be float32, but {Describe()} is {DType.Name()}");
    }

    internal static int[] BroadcastShape(string op, int[] a, int[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var shape = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : 1;
            int db = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : 1;
            if (da != db && da != 1 && db != 1)
                throw new ArgumentException($"{op}: shapes {Shp(a)} and {Shp(b)} cannot be broadcast (dim {i}: {da} vs {db})");
            shape[i] = da == 1 ? db : da;
        }
        return shape;
    }

    /// <summary>The layout of this tensor broadcast to <paramref name="shape"/> (stride 0 on broadcast dims).</summary>
    internal Strided BroadcastTo(int[] shape)
    {
        var strides = new long[shape.Length];
        int lead = shape.Length - Rank;
        for (int i = lead; i < shape.Length; i++)
            strides[i] = _shape[i - lead] == 1 && shape[i] != 1 ? 0 : _strides[i - lead];
        return new Strided(Buffer, new Layout(shape, strides, _offset));
    }

    /// <summary>Sums a broadcast gradient back down to <paramref name="shape"/> (the inverse of broadcasting).</summary>
    public Tensor SumTo(int[] shape)
    {
        if (_shape.AsSpan().SequenceEqual(shape)) return this;
        int lead = Rank - shape.Length;
        if (lead < 0) throw new ArgumentException($"sum_to: cannot sum {Describe()} to the larger rank {Shp(shape)}");
        var dims = new List<int>();
        for (int i = 0; i < Rank; i++)
        {
            if (i < lead) dims.Add(i);
            else if (shape[i - lead] == 1 && _shape[i] != 1) dims.Add(i);
            else if (shape[i - lead] != _shape[i])
                throw new ArgumentException($"sum_to: {Describe()} does not broadcast from {Shp(shape)}");
        }
        var summed = dims.Count == 0 ? this : Sum(dims.ToArray(), keepDim: true);
        return summed.Reshape(shape);
    }

    private Tensor UnaryOpOf(string name, UnaryOp op, float arg = 0f)
    {
        CheckFloat(name, "input");
        var x = Contiguous();
        var y = Empty((int[])_shape.Clone(), DType.Float32, Device);
        Backend.Unary(op, arg, x.Dense, y.Dense, y.Count);
        return Finish(y, name, new[] { this }, g =>
        {
            var gc = g.Contiguous();
            var gx = Empty((int[])g._shape.Clone(), DType.Float32, g.Device);
            gx.Backend.UnaryBackward(op, arg, x.Dense, y.Dense, gc.Dense, gx.Dense, gx.Count);
            return new[] { gx };
        }, x, y);
    }

    public Tensor Neg() => UnaryOpOf("neg", UnaryOp.Neg);
    public Tensor Exp() => UnaryOpOf("exp", UnaryOp.Exp);
    public Tensor Log() => UnaryOpOf("log", UnaryOp.Log);
    public Tensor Sqrt() => UnaryOpOf("sqrt", UnaryOp.Sqrt);
    public Tensor Rsqrt() => UnaryOpOf("rsqrt", UnaryOp.Rsqrt);
    public Tensor Tanh() => UnaryOpOf("tanh", UnaryOp.Tanh);
    public Tensor Relu() => UnaryOpOf("relu", UnaryOp.Relu);
    public Tensor Sigmoid() => UnaryOpOf("sigmoid", UnaryOp.Sigmoid);
    public Tensor Abs() => UnaryOpOf("abs", UnaryOp.Abs);

    /// <summary>GELU: exact (erf) form by default, or the tanh approximation.</summary>
    public Tensor Gelu(bool tanhApproximation = false) =>
        tanhApproximation ? UnaryOpOf("gelu_tanh", UnaryOp.GeluTanh) : UnaryOpOf("gelu", UnaryOp.GeluErf);

    public Tensor Scale(float factor) => UnaryOpOf("scale", UnaryOp.Scale, factor);

    public Tensor Pow(float exponent) => UnaryOpOf("pow", UnaryOp.Pow, exponent);

    public Tensor AddScalar(float value) => UnaryOpOf("add_scalar", UnaryOp.AddScalar, value);

    private static Tensor BinaryOpOf(string name, BinaryOp op, Tensor a, Tensor b, Func<Tensor, Tensor?[]>? backward)
    {
        CheckSameDevice(name, a, b);
        a.CheckFloat(name, "a");
        b.CheckFloat(name, "b");
        var shape = BroadcastShape(name, a._shape, b._shape);
        var c = Empty(shape, DType.Float32, a.Device);
        a.Backend.Binary(op, a.BroadcastTo(shape), b.BroadcastTo(shape), c.Strided);
        return backward is null ? c : Finish(c, name, new[] { a, b }, backward, a, b);
    }

    public static Tensor Add(Tensor a, Tensor b) =>
        BinaryOpOf("add", BinaryOp.Add, a, b, g => new[] { g.SumTo(a._shape), g.SumTo(b._shape) });

    public static Tensor Sub(Tensor a, Tensor b) =>
        BinaryOpOf("sub", BinaryOp.Sub, a, b, g => new[] { g.SumTo(a._shape), b.RequiresGrad ? g.Neg().SumTo(b._shape) : null });

    public static Tensor Mul(Tensor a, Tensor b) =>
        BinaryOpOf("mul", BinaryOp.Mul, a, b, g => new[]
        {
            a.RequiresGrad ? Mul(g, b).SumTo(a._shape) : null,
            b.RequiresGrad ? Mul(g, a).SumTo(b._shape) : null,
        });

    public static Tensor Div(Tensor a, Tensor b) =>
        BinaryOpOf("div", BinaryOp.Div, a, b, g => new[]
        {
            a.RequiresGrad ? Div(g, b).SumTo(a._shape) : null,
            b.RequiresGrad ? Mul(g, a).Div(Mul(b, b)).Neg().SumTo(b._shape) : null,
        });

    public Tensor Div(Tensor other) => Div(this, other);

    /// <summary>1 where a == b, else 0 (not differentiable).</summary>
    public static Tensor Eq(Tensor a, Tensor b) => BinaryOpOf("eq", BinaryOp.Eq, a, b, null);

    /// <summary>1 where a &gt; b, else 0 (not differentiable).</summary>
    public static Tensor Gt(Tensor a, Tensor b) => BinaryOpOf("gt", BinaryOp.Gt, a, b, null);

    public static Tensor operator +(Tensor a, Tensor b) => Add(a, b);
    public static Tensor operator -(Tensor a, Tensor b) => Sub(a, b);
    public static Tensor operator *(Tensor a, Tensor b) => Mul(a, b);
    public static Tensor operator /(Tensor a, Tensor b) => Div(a, b);
    public static Tensor operator -(Tensor a) => a.Neg();
    public static Tensor operator +(Tensor a, float s) => a.AddScalar(s);
    public static Tensor operator +(float s, Tensor a) => a.AddScalar(s);
    public static Tensor operator -(Tensor a, float s) => a.AddScalar(-s);
    public static Tensor operator -(float s, Tensor a) => a.Neg().AddScalar(s);
    public static Tensor operator *(Tensor a, float s) => a.Scale(s);
    public static Tensor operator *(float s, Tensor a) => a.Scale(s);
    public static Tensor operator /(Tensor a, float s) => a.Scale(1f / s);

    /// <summary>cond != 0 ? a : b, broadcasting all three.</summary>
    public static Tensor Where(Tensor condition, Tensor a, Tensor b)
    {
        CheckSameDevice("where", condition, a);
        CheckSameDevice("where", a, b);
        condition.CheckFloat("where", "condition (0/1 mask)");
        a.CheckFloat("where", "a");
        b.CheckFloat("where", "b");
        var shape = BroadcastShape("where", BroadcastShape("where", condition._shape, a._shape), b._shape);
        var y = Empty(shape, DType.Float32, a.Device);
        a.Backend.Where(condition.BroadcastTo(shape), a.BroadcastTo(shape), b.BroadcastTo(shape), y.Strided);
        return Finish(y, "where", new[] { condition, a, b }, g =>
        {
            using var zero = Scalar(0f, g.Device);
            return new[]
            {
                null,
                a.RequiresGrad ? Where(condition, g, zero).SumTo(a._shape) : null,
                b.RequiresGrad ? Where(condition, zero, g).SumTo(b._shape) : null,
            };
        }, condition);
    }

    /// <summary>Replaces elements where <paramref name="mask"/> is nonzero with <paramref name="value"/>.</summary>
    public Tensor MaskedFill(Tensor mask, float value)
    {
        var shape = BroadcastShape("masked_fill", _shape, mask._shape);
        if (!shape.AsSpan().SequenceEqual(_shape))
            throw new ArgumentException($"masked_fill: mask {mask.Describe()} must broadcast to the input {Describe()}");
        using var fill = Scalar(value, Device);
        return Where(mask, fill, this);
    }
}
