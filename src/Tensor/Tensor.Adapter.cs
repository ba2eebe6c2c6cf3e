using Finetune.Kernels;

namespace Finetune;

public sealed partial class Tensor
{
    /// <summary>
    /// A bottleneck adapter in one op: residual + s·(f(z·Wdᵀ + bd)·Wuᵀ + bu), f ReLU or exact GELU, with Wd [b, h],
    /// bd [b], Wu [h', b], bu [h'] and residual [..., h']. The down-projection's bias is the GEMM's initial C and f runs
    /// on the small [tokens, b] result; the up-projection's GEMM accumulates with alpha = s onto residual + s·bu, so
    /// scale, bias and residual cost no pass of their own. Only the pre-activation [tokens, b] is saved (f is
    /// recomputed in backward); the residual's gradient is the output's, passed through.
    /// </summary>
    public static Tensor BottleneckAdapter(Tensor z, Tensor residual, Tensor downWeight, Tensor downBias, Tensor upWeight, Tensor upBias,
        float scale, bool gelu)
    {
        const string op = "bottleneck_adapter";
        var (hidden, bottleneck) = CheckLinear(op, z, downWeight, downBias);
        CheckSameDevice(op, z, residual);
        CheckSameDevice(op, z, upWeight);
        CheckSameDevice(op, z, upBias);
        residual.CheckFloat(op, "residual");
        upWeight.CheckFloat(op, "up weight");
        upBias.CheckFloat(op, "up bias");
        if (upWeight.Rank != 2 || upWeight._shape[1] != bottleneck)
            throw new ArgumentException(
                $"{op}: up weight {upWeight.Describe()} must be [out, {bottleneck}] after down weight {downWeight.Describe()}");
        int outF = upWeight._shape[0];
        if (upBias.Rank != 1 || upBias._shape[0] != outF)
            throw new ArgumentException($"{op}: up bias {upBias.Describe()} must be [{outF}] for up weight {upWeight.Describe()}");
        var outShape = z._shape[..^1].Append(outF).ToArray();
        if (!residual._shape.AsSpan().SequenceEqual(outShape))
            throw new ArgumentException(
                $"{op}: residual {residual.Describe()} must be {Shp(outShape)} for input {z.Describe()}, up weight {upWeight.Describe()}");
        if (!float.IsFinite(scale)) throw new ArgumentOutOfRangeException(nameof(scale), scale, $"{op}: scale must be finite");
        var act = gelu ? UnaryOp.GeluErf : UnaryOp.Relu;
        var zc = z.Contiguous();
        var wd = downWeight.Contiguous();
        var wu = upWeight.Contiguous();
        int rows = (int)(residual.Count / Math.Max(1, outF));
        var pre = LinearOutput(zc, wd, downBias.Contiguous());
        var backend = z.Backend;
        var y = Empty(outShape, DType.Float32, z.Device);
        using (var scaledBias = Empty(new[] { outF }, DType.Float32, z.Device))
        {
            backend.Unary(UnaryOp.Scale, scale, upBias.Contiguous().Dense, scaledBias.Dense, outF);
            backend.Binary(BinaryOp.Add, residual.Strided, scaledBias.BroadcastTo(outShape), y.Strided);
        }
        if (rows > 0)
            using (var a = Activated(pre, act))
                backend.Gemm(false, true, rows, outF, bottleneck, scale, a.Dense, bottleneck, 0, wu.Dense, bottleneck, 0, 1f, y.Dense,
                    outF, 0, 1);
        var inputShape = z._shape;
        return Finish(y, op, new[] { z, residual, downWeight, downBias, upWeight, upBias }, g =>
        {
            var gc = g.Contiguous();
            var be = gc.Backend;
            using var a = Activated(pre, act);
            using var ga = Empty(new[] { rows, bottleneck }, DType.Float32, g.Device);
            var gh = Empty(new[] { rows, bottleneck }, DType.Float32, g.Device);
            if (rows > 0)
            {
                be.Gemm(false, false, rows, bottleneck, outF, scale, gc.Dense, outF, 0, wu.Dense, bottleneck, 0, 0f, ga.Dense,
                    bottleneck, 0, 1);
                be.UnaryBackward(act, 0f, pre.Dense, a.Dense, ga.Dense, gh.Dense, ga.Count);
            }
            Tensor? gz = null, gwu = null, gwd = null;
            if (z.RequiresGrad)
            {
                gz = Empty((int[])inputShape.Clone(), DType.Float32, g.Device);
                be.Gemm(false, false, rows, hidden, bottleneck, 1f, gh.Dense, bottleneck, 0, wd.Dense, hidden, 0, 0f, gz.Dense, hidden,
                    0, 1);
            }
            if (upWeight.RequiresGrad)
            {
                gwu = Empty(new[] { outF, bottleneck }, DType.Float32, g.Device);
                be.Gemm(true, false, outF, bottleneck, rows, scale, gc.Dense, outF, 0, a.Dense, bottleneck, 0, 0f, gwu.Dense,
                    bottleneck, 0, 1);
            }
            if (downWeight.RequiresGrad)
            {
                gwd = Empty(new[] { bottleneck, hidden }, DType.Float32, g.Device);
                be.Gemm(true, false, bottleneck, hidden, rows, 1f, gh.Dense, bottleneck, 0, zc.Dense, hidden, 0, 0f, gwd.Dense, hidden,
                    0, 1);
            }
            var g2 = gc.Reshape(-1, outF);
            return new[]
            {
                gz,
                residual.RequiresGrad ? g : null,
                gwd,
                downBias.RequiresGrad ? gh.Sum(0) : null,
                gwu,
                upBias.RequiresGrad ? g2.Sum(0) * scale : null,
            };
        }, zc, wd, wu, pre);
    }

    /// <summary>f(x) into a new tensor, outside autograd.</summary>
    private static Tensor Activated(Tensor x, UnaryOp act)
    {
        var a = Empty((int[])x._shape.Clone(), DType.Float32, x.Device);
        x.Backend.Unary(act, 0f, x.Dense, a.Dense, x.Count);
        return a;
    }
}
