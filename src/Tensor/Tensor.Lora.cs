using Finetune.Kernels;

namespace Finetune;

public sealed partial class Tensor
{
    /// <summary>True when the backend of <paramref name="device"/> has the fused LoRA kernels (<see cref="ILoraKernels"/>).</summary>
    public static bool HasFusedLora(Device device) => Backends.For(device) is ILoraKernels;

    /// <summary>
    /// LoRA's layer in one op: y = x·Wᵀ + b + s·(drop(x)·Aᵀ)·Bᵀ with A [r, in], B [out, r], s = <paramref name="scale"/>.
    /// One GEMM writes y with the low-rank product as a second inner segment (<see cref="ILoraKernels.LoraUpGemm"/>, onto
    /// the bias as <see cref="Linear"/>); the dropout of u = drop(x)·Aᵀ is drawn inside the kernels from
    /// <paramref name="generator"/>'s Philox stream (the same elements the composed <c>x.Dropout(p)</c> drops) and, in
    /// backward, read from the keep bits the forward wrote (1 bit per element) where the backend stores them, drawn again
    /// otherwise, so no float mask and no [tokens, out] temporary exist.
    /// Backward: dX = dY·W + s·((dY·B)·A ∘ mask) (one GEMM without dropout; with dropout the low-rank term is added in the
    /// pass that computes dA; skipped when x needs no gradient), dA, dB. <paramref name="dropout"/> 0 (or eval) draws nothing.
    /// </summary>
    public static Tensor LoraLinear(Tensor x, Tensor weight, Tensor? bias, Tensor loraA, Tensor loraB, float scale,
        float dropout = 0f, Generator? generator = null)
    {
        const string op = "lora_linear";
        var (inF, outF, rank) = CheckLora(op, x, new LoraProjection(weight, bias, loraA, loraB, scale, dropout, generator));
        var xc = x.Contiguous();
        var w = weight.Contiguous();
        var a = loraA.Contiguous();
        var b = loraB.Contiguous();
        int rows = Rows(x);
        var y = Empty(x._shape[..^1].Append(outF).ToArray(), DType.Float32, x.Device);
        float beta = BiasInto(xc, bias?.Contiguous(), y, rows, outF);
        var (stream, bits) = DrawDropout(x, rows, inF, dropout, generator);
        var u = Empty(new[] { rows, rank }, DType.Float32, x.Device);
        var kernels = (ILoraKernels)x.Backend;
        if (rows > 0)
        {
            kernels.LoraDown(xc.Dense, a.Dense, u.Dense, rows, inF, rank, stream, bits?.Dense);
            kernels.LoraUpGemm(xc.Dense, w.Dense, u.Dense, b.Dense, y.Dense, rows, inF, outF, rank, scale, beta);
        }
        var inputs = bias is null ? new[] { x, weight, loraA, loraB } : new[] { x, weight, loraA, loraB, bias };
        var inputShape = x._shape;
        var saved = bits is null ? new[] { xc, w, a, b, u } : new[] { xc, w, a, b, u, bits };
        return Finish(y, op, inputs, dy =>
        {
            var gy = dy.Contiguous();
            var back = (ILoraKernels)gy.Backend;
            var (gu, gb) = LoraUpGradients(gy.Dense, u, b, loraB, rows, outF, rank, scale);
            var gx = x.RequiresGrad ? Empty((int[])inputShape.Clone(), DType.Float32, gy.Device) : null;
            // dX = dY·W + s·(dY·B)·A in one GEMM; with dropout the low-rank term needs the mask, added in the gA pass over x.
            var gxTerm = InputGrad(gy.Dense, w, gu, a, gx, rows, inF, outF, rank, 0f, stream.Active);
            var ga = loraA.RequiresGrad ? Empty(new[] { rank, inF }, DType.Float32, gy.Device) : null;
            if (rows == 0) ga?.Backend.Fill(ga.Dense, ga.Count, 0f);
            else if (gxTerm is not null || ga is not null) back.LoraDownBackward(xc.Dense, a.Dense, gu.Dense, ga?.Dense, gxTerm?.Dense,
                rows, inF, rank, stream, bits?.Dense);
            var grads = new[] { gx, BaseWeightGrad(weight, gy, xc), ga, gb, BiasGrad(bias, gy) };
            gu.Dispose();
            return grads[..inputs.Length];
        }, saved);
    }

    /// <summary>The checks of one LoRA projection of x; returns (in, out, rank).</summary>
    private static (int In, int Out, int Rank) CheckLora(string op, Tensor x, LoraProjection p)
    {
        var (inF, outF) = CheckLinear(op, x, p.Weight, p.Bias);
        CheckSameDevice(op, x, p.LoraA);
        CheckSameDevice(op, x, p.LoraB);
        p.LoraA.CheckFloat(op, "lora_A");
        p.LoraB.CheckFloat(op, "lora_B");
        if (p.LoraA.Rank != 2 || p.LoraA._shape[1] != inF || p.LoraA._shape[0] == 0)
            throw new ArgumentException($"{op}: lora_A {p.LoraA.Describe()} must be [rank, {inF}] for weight {p.Weight.Describe()}");
        int rank = p.LoraA._shape[0];
        if (p.LoraB.Rank != 2 || p.LoraB._shape[0] != outF || p.LoraB._shape[1] != rank)
            throw new ArgumentException(
                $"{op}: lora_B {p.LoraB.Describe()} must be [{outF}, {rank}] for weight {p.Weight.Describe()} and lora_A "
                    + p.LoraA.Describe());
        if (!float.IsFinite(p.Scale)) throw new ArgumentOutOfRangeException(nameof(p), p.Scale, $"{op}: scale must be finite");
        if (!(p.Dropout >= 0f && p.Dropout < 1f))
            throw new ArgumentOutOfRangeException(nameof(p), p.Dropout, $"{op}: dropout must be in [0, 1)");
        if (x.Buffer.Backend is not ILoraKernels)
            throw new NotSupportedException($"{op}: the {x.Device} backend has no fused LoRA kernels (check Tensor.HasFusedLora first)");
        return (inF, outF, rank);
    }

    private static int Rows(Tensor x)
    {
        int rows = 1;
        foreach (int d in x._shape[..^1]) rows *= d;
        return rows;
    }

    /// <summary>
    /// Reserves x's dropout counters from the generator (as <c>x.Dropout(p)</c> would) and, where the backend stores keep
    /// bits, the int32 tensor that holds them (⌈in/8⌉ bytes per row).
    /// </summary>
    private static (DropoutStream Stream, Tensor? Bits) DrawDropout(Tensor x, int rows, int inF, float dropout, Generator? generator)
    {
        if (dropout <= 0f) return (DropoutStream.None, null);
        var g = generator ?? Generator.Default;
        var stream = new DropoutStream(g.Seed, g.Reserve(x.Count), dropout);
        bool keepBits = GradMode.IsEnabled && ((ILoraKernels)x.Backend).StoresKeepBits;
        long bytes = (long)rows * ((inF + 7) / 8);
        var bits = keepBits ? Empty(new[] { (int)Math.Max(1, (bytes + 3) / 4) }, DType.Int32, x.Device) : null;
        return (stream, bits);
    }

    /// <summary>gu = s·g·B [rows, r] and, when B is trained, gB (zero without rows), in one pass over g.</summary>
    private static (Tensor Gu, Tensor? Gb) LoraUpGradients(Dense g, Tensor u, Tensor b, Tensor loraB, int rows, int outF, int rank,
        float scale)
    {
        var gu = Empty(new[] { rows, rank }, DType.Float32, u.Device);
        var gb = loraB.RequiresGrad ? Empty(new[] { outF, rank }, DType.Float32, u.Device) : null;
        if (rows > 0) ((ILoraKernels)u.Backend).LoraUpBackward(g, u.Dense, b.Dense, gu.Dense, gb?.Dense, rows, outF, rank, scale);
        else gb?.Backend.Fill(gb.Dense, gb.Count, 0f);
        return (gu, gb);
    }

    /// <summary>
    /// gx = g·W + beta·gx, with the low-rank term gu·A in the same GEMM unless it is <paramref name="masked"/> by dropout;
    /// returns gx when the term is still to be added with the mask (by the gA pass), else null.
    /// </summary>
    private static Tensor? InputGrad(Dense g, Tensor w, Tensor gu, Tensor a, Tensor? gx, int rows, int inF, int outF, int rank,
        float beta, bool masked)
    {
        if (gx is null || rows == 0) return null;
        if (!masked)
        {
            ((ILoraKernels)gx.Backend).LoraInputGradGemm(g, w.Dense, gu.Dense, a.Dense, gx.Dense, rows, inF, outF, rank, beta);
            return null;
        }
        gx.Backend.Gemm(false, false, rows, inF, outF, 1f, g, outF, 0, w.Dense, inF, 0, beta, gx.Dense, inF, 0, 1);
        return gx;
    }

    private static Tensor? BaseWeightGrad(Tensor weight, Tensor gy, Tensor xc) =>
        weight.RequiresGrad ? gy.Reshape(-1, weight._shape[0]).T.Matmul(xc.Reshape(-1, weight._shape[1])) : null;

    private static Tensor? BiasGrad(Tensor? bias, Tensor gy) =>
        bias is not null && bias.RequiresGrad ? gy.Reshape(-1, bias._shape[0]).Sum(0) : null;
}
