using Finetune.Kernels;

namespace Finetune;

public sealed partial class Tensor
{
    /// <summary>Whether <paramref name="device"/>'s backend runs <see cref="LinearEpilogue"/> (otherwise layers run composed).</summary>
    public static bool HasGemmEpilogues(Device device) => Backends.For(device) is IEpilogueKernels;

    /// <summary>
    /// A projection and its elementwise tail in one op: residual + drop(act(x·Wᵀ + b)), W [out, in], b [out] or null, act none
    /// or exact GELU, residual [..., out] or null. One GEMM whose epilogue adds the bias, applies act and the dropout (drawn
    /// from <paramref name="generator"/>'s Philox stream: the same elements the composed <c>Dropout</c> drops, the same counters
    /// reserved) and adds the residual while each tile of the output is in cache. The pre-activation is written only when a
    /// graph is recorded and act needs it; the dropout mask is never stored (drawn again in backward). Backward: g·mask, then
    /// act's derivative at the pre-activation, then dX, dW and db as <see cref="Linear"/>; the residual's gradient is g.
    /// <paramref name="dropout"/> is the probability in effect (0 in eval).
    /// </summary>
    public static Tensor LinearEpilogue(Tensor x, Tensor weight, Tensor? bias, EpilogueActivation activation = EpilogueActivation.None,
        float dropout = 0f, Generator? generator = null, Tensor? residual = null)
    {
        const string op = "linear_epilogue";
        var (inF, outF) = CheckLinear(op, x, weight, bias);
        var outShape = x._shape[..^1].Append(outF).ToArray();
        if (residual is not null)
        {
            CheckSameDevice(op, x, residual);
            residual.CheckFloat(op, "residual");
            if (!residual._shape.AsSpan().SequenceEqual(outShape))
                throw new ArgumentException($"{op}: residual {residual.Describe()} must be {Shp(outShape)} for input {x.Describe()} and "
                    + $"weight {weight.Describe()}");
        }
        if (!(dropout >= 0f && dropout < 1f))
            throw new ArgumentOutOfRangeException(nameof(dropout), dropout, $"{op}: dropout must be in [0, 1)");
        if (x.Buffer.Backend is not IEpilogueKernels)
            throw new NotSupportedException($"{op}: the {x.Device} backend has no GEMM epilogues (check Tensor.HasGemmEpilogues first)");
        var inputs = new List<Tensor> { x, weight };
        if (bias is not null) inputs.Add(bias);
        if (residual is not null) inputs.Add(residual);
        bool recording = GradMode.IsEnabled && inputs.Any(t => t.RequiresGrad);
        var xc = x.Contiguous();
        var w = weight.Contiguous();
        var rc = residual?.Contiguous();
        int rows = (int)(x.Count / Math.Max(1, inF));
        var y = Empty(outShape, DType.Float32, x.Device);
        var pre = recording && activation != EpilogueActivation.None ? Empty(outShape, DType.Float32, x.Device) : null;
        var g = generator ?? Generator.Default;
        var stream = dropout > 0f ? new DropoutStream(g.Seed, g.Reserve(y.Count), dropout) : DropoutStream.None;
        if (rows > 0)
            ((IEpilogueKernels)x.Backend).LinearEpilogue(xc.Dense, w.Dense, bias?.Contiguous().Dense, y.Dense, rows, inF, outF, activation,
                stream, rc?.Dense, pre?.Dense);
        var inputShape = x._shape;
        var saved = pre is null ? new[] { xc, w } : new[] { xc, w, pre };
        return Finish(y, op, inputs.ToArray(), dy =>
        {
            var gc = dy.Contiguous();
            var gz = gc;
            if (stream.Active)
            {
                var dropped = Empty(outShape, DType.Float32, gc.Device);
                ((IEpilogueKernels)gc.Backend).DropoutBackward(gc.Dense, dropped.Dense, gc.Count, stream);
                gz = dropped;
            }
            if (pre is not null)
            {
                var through = Empty(outShape, DType.Float32, gc.Device);
                gc.Backend.UnaryBackward(UnaryOp.GeluErf, 0f, pre.Dense, pre.Dense, gz.Dense, through.Dense, gz.Count);
                if (gz != gc) gz.Dispose();
                gz = through;
            }
            var g2 = gz.Reshape(-1, outF);
            var grads = new List<Tensor?>
            {
                x.RequiresGrad ? g2.Matmul(w).Reshape(inputShape) : null,
                weight.RequiresGrad ? g2.T.Matmul(xc.Reshape(-1, inF)) : null,
            };
            if (bias is not null) grads.Add(bias.RequiresGrad ? g2.Sum(0) : null);
            if (residual is not null) grads.Add(residual.RequiresGrad ? dy : null);
            if (gz != gc) gz.Dispose();
            return grads.ToArray();
        }, saved);
    }
}
