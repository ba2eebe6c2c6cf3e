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
        int batch = (int)CheckShape("matmul", batchShape);
        var outShape = batchShape.Append(m).Append(n).ToArray();
        var c = Empty(outShape, DType.Float32, a.Device);
        if (c.Count > 0)
        {
            var (da, ta, lda, sa, ownA) = GemmOperand(a, batchShape);
            var (db, tb, ldb, sb, ownB) = GemmOperand(b, batchShape);
            if (k == 0) a.Backend.Fill(c.Dense, c.Count, 0f);
            else a.Backend.Gemm(ta, tb, m, n, k, 1f, da, lda, sa, db, ldb, sb, 0f, c.Dense, n, (long)m * n, batch);
            ownA?.Dispose();
            ownB?.Dispose();
        }
        return Finish(c, "matmul", new[] { a, b }, g => new[]
        {
            a.RequiresGrad ? Matmul2(g, b.T).SumTo(a._shape) : null,
            b.RequiresGrad ? Matmul2(a.T, g).SumTo(b._shape) : null,
        }, a, b);
    }

    /// <summary>
    /// How GEMM reads one operand: row-major or transposed last two dims, the leading dimension, and one
    /// batch stride (0 when broadcast). Copies only when the batch dims cannot be walked with one stride.
    /// </summary>
    private static (Dense data, bool trans, int ld, long batchStride, Tensor? owned) GemmOperand(Tensor x, int[] batchShape)
    {
        var view = x.BroadcastTo(batchShape.Append(x._shape[^2]).Append(x._shape[^1]).ToArray());
        var st = view.Layout.Strides;
        int r = x._shape[^2], c = x._shape[^1];
        long sr = st[^2], sc = st[^1];
        bool rowMajor = sc == 1 || c == 1;
        bool colMajor = !rowMajor && (sr == 1 || r == 1);
        long ld = rowMajor ? (r == 1 ? Math.Max(c, 1) : sr) : (c == 1 ? Math.Max(r, 1) : sc);
        bool ldOk = rowMajor ? ld >= c : ld >= r;
        if ((rowMajor || colMajor) && ldOk && TryBatchStride(view.Layout.Shape, st, out long bs))
            return (new Dense(view.Buffer, view.Layout.Offset), colMajor, (int)ld, bs, null);
        // Fallback: materialise the broadcast batch contiguously.
        var copy = Empty(view.Layout.Shape, DType.Float32, x.Device);
        x.Backend.Copy(DType.Float32, view, copy.Strided);
        return (copy.Dense, false, c, (long)r * c, copy);
    }

    /// <summary>One stride that walks all batch dims in order, if there is one.</summary>
    private static bool TryBatchStride(int[] shape, long[] strides, out long stride)
    {
        int nb = shape.Length - 2;
        stride = 0;
        int last = -1;
        for (int i = nb - 1; i >= 0; i--)
        {
            if (shape[i] == 1) continue;
            if (last < 0)
            {
                stride = strides[i];
                last = i;
                continue;
            }
            long span = 1;
            for (int j = i + 1; j <= last; j++) span *= shape[j];
            if (strides[i] != stride * span) return false;
        }
        return true;
    }
}
