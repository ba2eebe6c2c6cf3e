using Finetune.Kernels;

namespace Finetune;

public sealed partial class Tensor
{
    /// <summary>True when the backend of <paramref name="device"/> has the fused LoRA kernels (<see cref="ILoraKernels"/>).</summary>
    public static bool HasFusedLora(Device device) => Backends.For(device) is ILoraKernels;

    /// <summary>
    /// LoRA's layer in one op: y = x·Wᵀ + b + s·(drop(x)·Aᵀ)·Bᵀ with A [r, in], B [out, r], s = <paramref name="scale"/>.
    /// The base GEMM writes y (bias first, as <see cref="Linear"/>); the low-rank path adds into y in place, with the
    /// dropout drawn inside the kernels from <paramref name="generator"/>'s Philox stream (the same elements the
    /// composed <c>x.Dropout(p)</c> drops) and drawn again in backward, so no mask and no [tokens, out] temporary
    /// exist. Backward: dX = dY·W + s·((dY·B)·A ∘ mask) (the low-rank term added in the pass that computes dA; skipped
    /// when x needs no gradient), dA, dB. <paramref name="dropout"/> 0 (or eval) draws nothing.
    /// </summary>
    public static Tensor LoraLinear(Tensor x, Tensor weight, Tensor? bias, Tensor loraA, Tensor loraB, float scale,
        float dropout = 0f, Generator? generator = null)
    {
        const string op = "lora_linear";
        var (inF, outF) = CheckLinear(op, x, weight, bias);
        CheckSameDevice(op, x, loraA);
        CheckSameDevice(op, x, loraB);
        loraA.CheckFloat(op, "lora_A");
        loraB.CheckFloat(op, "lora_B");
        if (loraA.Rank != 2 || loraA._shape[1] != inF || loraA._shape[0] == 0)
            throw new ArgumentException($"{op}: lora_A {loraA.Describe()} must be [rank, {inF}] for weight {weight.Describe()}");
        int rank = loraA._shape[0];
        if (loraB.Rank != 2 || loraB._shape[0] != outF || loraB._shape[1] != rank)
            throw new ArgumentException(
                $"{op}: lora_B {loraB.Describe()} must be [{outF}, {rank}] for weight {weight.Describe()} and lora_A {loraA.Describe()}");
        if (!float.IsFinite(scale)) throw new ArgumentOutOfRangeException(nameof(scale), scale, $"{op}: scale must be finite");
        if (!(dropout >= 0f && dropout < 1f))
            throw new ArgumentOutOfRangeException(nameof(dropout), dropout, $"{op}: dropout must be in [0, 1)");
        if (x.Buffer.Backend is not ILoraKernels)
            throw new NotSupportedException($"{op}: the {x.Device} backend has no fused LoRA kernels (check Tensor.HasFusedLora first)");
        var xc = x.Contiguous();
        var w = weight.Contiguous();
        var a = loraA.Contiguous();
        var b = loraB.Contiguous();
        int rows = 1;
        foreach (int d in x._shape[..^1]) rows *= d;
        var y = LinearOutput(xc, w, bias?.Contiguous());
        var g = generator ?? Generator.Default;
        var stream = dropout > 0f ? new DropoutStream(g.Seed, g.Reserve(x.Count), dropout) : DropoutStream.None;
        var u = Empty(new[] { rows, rank }, DType.Float32, x.Device);
        var kernels = (ILoraKernels)x.Backend;
        if (rows > 0)
        {
            kernels.LoraDown(xc.Dense, a.Dense, u.Dense, rows, inF, rank, stream);
            kernels.LoraUp(u.Dense, b.Dense, y.Dense, rows, outF, rank, scale);
        }
        var inputs = bias is null ? new[] { x, weight, loraA, loraB } : new[] { x, weight, loraA, loraB, bias };
        var inputShape = x._shape;
        return Finish(y, op, inputs, dy =>
        {
            var gy = dy.Contiguous();
            var back = (ILoraKernels)gy.Backend;
            var gu = Empty(new[] { rows, rank }, DType.Float32, gy.Device);
            var gb = loraB.RequiresGrad ? Empty(new[] { outF, rank }, DType.Float32, gy.Device) : null;
            if (rows > 0) back.LoraUpBackward(gy.Dense, u.Dense, b.Dense, gu.Dense, gb?.Dense, rows, outF, rank, scale);
            else gb?.Backend.Fill(gb.Dense, gb.Count, 0f);
            Tensor? gx = null;
            if (x.RequiresGrad)
            {
                gx = Empty((int[])inputShape.Clone(), DType.Float32, gy.Device);
                if (rows > 0) gy.Backend.Gemm(false, false, rows, inF, outF, 1f, gy.Dense, outF, 0, w.Dense, inF, 0, 0f, gx.Dense, inF,
                    0, 1);
            }
            var ga = loraA.RequiresGrad ? Empty(new[] { rank, inF }, DType.Float32, gy.Device) : null;
            if (rows == 0) ga?.Backend.Fill(ga.Dense, ga.Count, 0f);
            else if (gx is not null || ga is not null) back.LoraDownBackward(xc.Dense, a.Dense, gu.Dense, ga?.Dense, gx?.Dense, rows,
                inF, rank, stream);
            var g2 = gy.Reshape(-1, outF);
            var grads = new[]
            {
                gx,
                weight.RequiresGrad ? g2.T.Matmul(xc.Reshape(-1, inF)) : null,
                ga,
                gb,
                bias is not null && bias.RequiresGrad ? g2.Sum(0) : null,
            };
            gu.Dispose();
            return grads[..inputs.Length];
        }, xc, w, a, b, u);
    }
}
