using Finetune.Kernels;

namespace Finetune;

public sealed partial class Tensor
{
    /// <summary>
    /// Matrix product with torch.matmul semantics: 1-D operands are promoted, batch dims broadcast.
    /// Transposed views are passed to GEMM as transposes, never copied.
    /// </summary>
    public Tensor Matmul(Tensor other) => Matmul(this, other);

    public static Tensor Matmul(Tensor a, Tensor b)
    {
        CheckSameDevice("matmul", a, b);
        a.CheckFloat("matmul", "a");
        b.CheckFloat("matmul", "b");
        if (a.Rank == 0 || b.Rank == 0)
            throw new ArgumentException($"matmul: operands must have at least one dim, got a {a.Describe()} and b {b.Describe()}");
        if (a.Rank == 1) return Matmul(a.Unsqueeze(0), b).Squeeze(-2);
        if (b.Rank == 1) return Matmul(a, b.Unsqueeze(1)).Squeeze(-1);
        int k = a._shape[^1];
        if (b._shape[^2] != k)
            throw new ArgumentException($"matmul: inner dimensions differ: a {a.Describe()} · b {b.Describe()} ({k} ≠ {b._shape[^2]})");
        // [..., m, k] · [k, n] is one GEMM over all rows: fold the batch into m.
        if (b.Rank == 2 && a.Rank > 2 && a.IsContiguous)
        {
            var outShape = a._shape[..^1].Append(b._shape[1]).ToArray();
            return Matmul2(a.Reshape(-1, k), b).Reshape(outShape);
        }
        return Matmul2(a, b);
    }

    /// <summary>Batched product of operands of rank ≥ 2 with broadcast batch dims.</summary>
    private static Tensor Matmul2(Tensor a, Tensor b)
    {
        int m = a._shape[^2], k = a._shape[^1], n = b._shape[^1];
        var batchShape = BroadcastShape("matmul", a._shape[..^2], b._shape[..^2]);
        var outShape = batchShape.Append(m).Append(n).ToArray();
        var c = Empty(outShape, DType.Float32, a.Device);
        if (c.Count > 0)
        {
            if (k == 0) a.Backend.Fill(c.Dense, c.Count, 0f);
            else Gemm(a, b, c, batchShape, m, n, k);
        }
        return Finish(c, "matmul", new[] { a, b }, g => new[]
        {
            // A transposed operand gets its gradient computed transposed, so it arrives contiguous.
            a.RequiresGrad ? (IsColumnMajor(a) ? Matmul2(b, g.T).T : Matmul2(g, b.T)).SumTo(a._shape) : null,
            b.RequiresGrad ? (IsColumnMajor(b) ? Matmul2(g.T, a).T : Matmul2(a.T, g)).SumTo(b._shape) : null,
        }, a, b);
    }

    /// <summary>The last two dims are a transpose of row-major memory.</summary>
    private static bool IsColumnMajor(Tensor t) => t._strides[^2] == 1 && t._shape[^1] > 1 && t._shape[^2] > 1;

    /// <summary>
    /// Runs C = A·B as few strided-batched GEMMs as the layouts allow: the trailing batch dims that one stride
    /// walks in both operands form the GEMM batch, and the leading ones are looped over. Operands whose matrix
    /// dims are neither row- nor column-major are copied first.
    /// </summary>
    private static void Gemm(Tensor a, Tensor b, Tensor c, int[] batchShape, int m, int n, int k)
    {
        var (va, ta, lda, ownA) = GemmOperand(a, batchShape);
        var (vb, tb, ldb, ownB) = GemmOperand(b, batchShape);
        try
        {
            int nb = batchShape.Length;
            var sa = va.Layout.Strides;
            var sb = vb.Layout.Strides;
            int split = 0;
            long strideA = 0, strideB = 0;
            while (!(TryBatchStride(batchShape, sa, split, out strideA) && TryBatchStride(batchShape, sb, split, out strideB))) split++;
            int inner = 1;
            for (int d = split; d < nb; d++) inner *= batchShape[d];
            long outer = 1;
            for (int d = 0; d < split; d++) outer *= batchShape[d];
            var backend = a.Backend;
            var index = new int[split];
            for (long o = 0; o < outer; o++)
            {
                long offA = va.Layout.Offset, offB = vb.Layout.Offset, offC = 0;
                long cStride = (long)inner * m * n;
                for (int d = 0; d < split; d++)
                {
                    offA += index[d] * sa[d];
                    offB += index[d] * sb[d];
                }
                offC = o * cStride;
                backend.Gemm(ta, tb, m, n, k, 1f, new Dense(va.Buffer, offA), lda, strideA, new Dense(vb.Buffer, offB), ldb, strideB,
                    0f, new Dense(c.Buffer, c._offset + offC), n, (long)m * n, inner);
                for (int d = split - 1; d >= 0 && ++index[d] == batchShape[d]; d--) index[d] = 0;
            }
        }
        finally
        {
            ownA?.Dispose();
            ownB?.Dispose();
        }
    }

    /// <summary>
    /// How GEMM reads one operand broadcast to the batch: row-major or transposed matrix dims and the leading
    /// dimension. Copies (and says so through <c>owned</c>) only when the matrix dims are neither.
    /// </summary>
    private static (Strided view, bool trans, int ld, Tensor? owned) GemmOperand(Tensor x, int[] batchShape)
    {
        var full = batchShape.Append(x._shape[^2]).Append(x._shape[^1]).ToArray();
        var view = x.BroadcastTo(full);
        var st = view.Layout.Strides;
        int r = x._shape[^2], c = x._shape[^1];
        long sr = st[^2], sc = st[^1];
        if ((sc == 1 || c == 1) && (r == 1 || sr >= c)) return (view, false, (int)(r == 1 ? Math.Max(c, 1) : sr), null);
        if ((sr == 1 || r == 1) && (c == 1 || sc >= r)) return (view, true, (int)(c == 1 ? Math.Max(r, 1) : sc), null);
        var copy = Empty(full, DType.Float32, x.Device);
        x.Backend.Copy(DType.Float32, view, copy.Strided);
        return (copy.Strided, false, c, copy);
    }

    /// <summary>One stride that walks batch dims [from, end) in order, if there is one.</summary>
    private static bool TryBatchStride(int[] batchShape, long[] strides, int from, out long stride)
    {
        stride = 0;
        int last = -1;
        for (int i = batchShape.Length - 1; i >= from; i--)
        {
            if (batchShape[i] == 1) continue;
            if (last < 0)
            {
                stride = strides[i];
                last = i;
                continue;
            }
            long span = 1;
            for (int j = i + 1; j <= last; j++) span *= batchShape[j];
            if (strides[i] != stride * span) return false;
        }
        return true;
    }

    /// <summary>
    /// x·Wᵀ + b with W [out, in] as torch.nn.functional.linear. The bias is copied into the output first and
    /// the GEMM accumulates onto it (beta = 1), so the sum costs no extra pass over the activations.
    /// </summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null)
    {
        var (inF, outF) = CheckLinear("linear", x, weight, bias);
        if (bias is null || !x.IsContiguous || !weight.IsContiguous)
        {
            var y = x.Matmul(weight.T);
            return bias is null ? y : y + bias;
        }
        var c = LinearOutput(x, weight, bias);
        var inputShape = x._shape;
        return Finish(c, "linear", new[] { x, weight, bias }, g =>
        {
            var g2 = g.Reshape(-1, outF);
            return new[]
            {
                x.RequiresGrad ? g2.Matmul(weight).Reshape(inputShape) : null,
                weight.RequiresGrad ? g2.T.Matmul(x.Reshape(-1, inF)) : null,
                bias.RequiresGrad ? g2.Sum(0) : null,
            };
        }, x, weight);
    }

    /// <summary>The checks of x·Wᵀ + b (W [out, in], b [out] or null); returns (in, out).</summary>
    private static (int In, int Out) CheckLinear(string op, Tensor x, Tensor weight, Tensor? bias)
    {
        CheckSameDevice(op, x, weight);
        x.CheckFloat(op, "input");
        weight.CheckFloat(op, "weight");
        if (weight.Rank != 2) throw new ArgumentException($"{op}: weight must be [out, in], got {weight.Describe()}");
        int outF = weight._shape[0], inF = weight._shape[1];
        if (x.Rank == 0 || x._shape[^1] != inF)
            throw new ArgumentException($"{op}: input {x.Describe()} must end in {inF} features (weight {weight.Describe()})");
        if (bias is not null)
        {
            CheckSameDevice(op, x, bias);
            bias.CheckFloat(op, "bias");
            if (bias.Rank != 1 || bias._shape[0] != outF)
                throw new ArgumentException($"{op}: bias {bias.Describe()} must be [{outF}] for weight {weight.Describe()}");
        }
        return (inF, outF);
    }

    /// <summary>
    /// The value of x·Wᵀ + b outside autograd, for contiguous x and W: the bias (if any) is copied into the output
    /// and one GEMM accumulates onto it.
    /// </summary>
    private static Tensor LinearOutput(Tensor x, Tensor weight, Tensor? bias)
    {
        var c = Empty(x._shape[..^1].Append(weight._shape[0]).ToArray(), DType.Float32, x.Device);
        LinearInto(x, weight, bias, c);
        return c;
    }

    /// <summary>x·Wᵀ + b written into the contiguous tensor (or view) <paramref name="c"/> [rows…, out], outside autograd.</summary>
    private static void LinearInto(Tensor x, Tensor weight, Tensor? bias, Tensor c)
    {
        int outF = weight._shape[0], inF = weight._shape[1];
        int rows = (int)(x.Count / Math.Max(1, inF));
        // The bias as a GEMM epilogue where the backend has one: added to each finished block while it is in cache, where the
        // broadcast copy into C before a beta = 1 GEMM was one more pass over [rows, out].
        if (bias is { IsContiguous: true } && rows > 0 && inF > 0 && x.Backend is IEpilogueKernels epilogues)
        {
            epilogues.LinearEpilogue(x.Dense, weight.Dense, bias.Dense, c.Dense, rows, inF, outF, EpilogueActivation.None,
                DropoutStream.None, null, null);
            return;
        }
        float beta = BiasInto(x, bias, c, rows, outF);
        if (bias is null && inF == 0) x.Backend.Fill(c.Dense, c.Count, 0f);
        if (rows > 0 && inF > 0)
            x.Backend.Gemm(false, true, rows, outF, inF, 1f, x.Dense, inF, 0, weight.Dense, inF, 0, beta, c.Dense, outF, 0, 1);
    }

    /// <summary>Broadcasts the bias (if any) into c [rows, out]; returns the beta of a GEMM onto c (1 with a bias, else 0).</summary>
    private static float BiasInto(Tensor x, Tensor? bias, Tensor c, int rows, int outF)
    {
        if (bias is null) return 0f;
        var flat = new[] { rows, outF };
        x.Backend.Copy(DType.Float32, bias.BroadcastTo(flat), new Strided(c.Buffer, Layout.Contiguous(flat, c._offset)));
        return 1f;
    }
}
