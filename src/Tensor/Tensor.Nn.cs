using Finetune.Kernels;

namespace Finetune;

/// <summary>The neural-network ops: softmax, layer norm, dropout, embedding, cross-entropy, concat.</summary>
public sealed partial class Tensor
{
    private void CheckLastDim(string op, int dim)
    {
        if (Rank == 0 || NormalizeDim(op, dim, Rank) != Rank - 1)
            throw new ArgumentException($"{op}: only the last dim is supported (got dim {dim} for {Describe()}); Transpose() first");
    }

    private (int rows, int cols) Rows() => (_shape[^1] == 0 ? 0 : (int)(Count / _shape[^1]), _shape[^1]);

    public Tensor Softmax(int dim = -1) => SoftmaxOf(false, dim);

    public Tensor LogSoftmax(int dim = -1) => SoftmaxOf(true, dim);

    /// <summary>
    /// softmax(scale·this + additiveMask) over the last dim, in one kernel: attention's 1/√d scale, padding mask and
    /// softmax without two extra passes over the scores. The mask broadcasts to this tensor's shape and is a
    /// constant: a mask that requires a gradient, or one whose broadcast is not one block of row dims (e.g. a
    /// per-batch [B, 1, T, T] mask under [B, heads, T, T] scores), runs as the composed ops instead.
    /// </summary>
    public Tensor ScaledMaskedSoftmax(float scale, Tensor? additiveMask = null)
    {
        const string name = "scaled_masked_softmax";
        if (!float.IsFinite(scale)) throw new ArgumentOutOfRangeException(nameof(scale), scale, $"{name}: scale must be finite");
        if (additiveMask is null) return SoftmaxOf(false, -1, scale);
        CheckFloat(name, "input");
        additiveMask.CheckFloat(name, "mask");
        CheckSameDevice(name, this, additiveMask);
        if (Rank == 0) throw new ArgumentException($"{name}: input must have at least one dim");
        if (additiveMask.Rank > Rank)
            throw new ArgumentException($"{name}: mask {additiveMask.Describe()} has more dims than the scores {Describe()}");
        var broadcast = BroadcastShape(name, _shape, additiveMask._shape);
        if (!broadcast.AsSpan().SequenceEqual(_shape))
            throw new ArgumentException($"{name}: mask {additiveMask.Describe()} does not broadcast to the scores {Describe()}");
        if ((additiveMask.RequiresGrad && GradMode.IsEnabled) || MaskRows(additiveMask._shape) is not { } rows)
            return (this * scale + additiveMask).Softmax();
        return SoftmaxOf(false, -1, scale, new RowMask(additiveMask.Contiguous().Dense, rows.Rows, rows.Divisor), name);
    }

    /// <summary>
    /// How the rows of a mask broadcast over this tensor's rows, as a <see cref="RowMask"/>'s rows and divisor; null
    /// when the mask repeats within a row (last dim 1) or its non-broadcast row dims are not one contiguous block.
    /// </summary>
    private (int Rows, long Divisor)? MaskRows(int[] maskShape)
    {
        int lead = Rank - maskShape.Length;
        int M(int d) => d < lead ? 1 : maskShape[d - lead];
        if (M(Rank - 1) != _shape[^1]) return null;
        int first = -1, last = -1;
        for (int d = 0; d < Rank - 1; d++)
            if (M(d) != 1 && _shape[d] != 1)
            {
                if (first < 0) first = d;
                last = d;
            }
        if (first < 0) return (1, 1);
        int rows = 1;
        for (int d = first; d <= last; d++)
        {
            if (M(d) != _shape[d]) return null;                        // a broadcast dim inside the block
            rows *= _shape[d];
        }
        long divisor = 1;
        for (int d = last + 1; d < Rank - 1; d++) divisor *= _shape[d];
        return (rows, divisor);
    }

    private Tensor SoftmaxOf(bool log, int dim, float scale = 1f, RowMask? mask = null, string? op = null)
    {
        string name = op ?? (log ? "log_softmax" : "softmax");
        CheckFloat(name, "input");
        CheckLastDim(name, dim);
        var x = Contiguous();
        var (rows, cols) = Rows();
        var y = Empty((int[])_shape.Clone(), DType.Float32, Device);
        Backend.Softmax(log, x.Dense, y.Dense, rows, cols, scale, mask);
        return Finish(y, name, new[] { this }, g =>
        {
            var gc = g.Contiguous();
            var gx = Empty((int[])_shape.Clone(), DType.Float32, g.Device);
            gx.Backend.SoftmaxBackward(log, y.Dense, gc.Dense, gx.Dense, rows, cols, scale);
            return new[] { gx };
        }, y);
    }

    /// <summary>Layer normalisation over the last dim with affine weight and bias of that size.</summary>
    public Tensor LayerNorm(Tensor weight, Tensor bias, float eps = 1e-5f)
    {
        CheckFloat("layer_norm", "input");
        weight.CheckFloat("layer_norm", "weight");
        bias.CheckFloat("layer_norm", "bias");
        CheckSameDevice("layer_norm", this, weight);
        CheckSameDevice("layer_norm", this, bias);
        if (Rank == 0) throw new ArgumentException("layer_norm: input must have at least one dim");
        int cols = _shape[^1];
        if (weight.Rank != 1 || weight._shape[0] != cols || bias.Rank != 1 || bias._shape[0] != cols)
            throw new ArgumentException($"layer_norm: weight {weight.Describe()} and bias {bias.Describe()} must both be [{cols}] "
                + $"for input {Describe()}");
        if (!(eps > 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "layer_norm: eps must be positive");
        var x = Contiguous();
        var w = weight.Contiguous();
        var b = bias.Contiguous();
        var (rows, _) = Rows();
        var y = Empty((int[])_shape.Clone(), DType.Float32, Device);
        var mean = Empty(new[] { rows }, DType.Float32, Device);
        var rstd = Empty(new[] { rows }, DType.Float32, Device);
        Backend.LayerNorm(x.Dense, w.Dense, b.Dense, y.Dense, mean.Dense, rstd.Dense, rows, cols, eps);
        return Finish(y, "layer_norm", new[] { this, weight, bias }, g =>
        {
            var gc = g.Contiguous();
            var gx = Empty((int[])_shape.Clone(), DType.Float32, g.Device);
            var gw = Full(new[] { cols }, 0f, g.Device);
            var gb = Full(new[] { cols }, 0f, g.Device);
            g.Backend.LayerNormBackward(x.Dense, w.Dense, mean.Dense, rstd.Dense, gc.Dense, gx.Dense, gw.Dense, gb.Dense, rows, cols);
            return new[] { gx, gw, gb };
        }, x, w, mean, rstd);
    }

    /// <summary>Inverted dropout: zeroes each element with probability p and scales the rest by 1/(1-p). Identity when not
    /// training.</summary>
    public Tensor Dropout(float p, bool training, Generator? generator = null)
    {
        if (!(p >= 0f && p <= 1f)) throw new ArgumentOutOfRangeException(nameof(p), p, "dropout: p must be in [0, 1]");
        CheckFloat("dropout", "input");
        if (!training || p == 0f) return this;
        using var uniform = Uniform(_shape, 0f, 1f, generator, Device);
        var mask = Empty((int[])_shape.Clone(), DType.Float32, Device);
        Backend.Unary(UnaryOp.DropoutMask, p, uniform.Dense, mask.Dense, mask.Count);
        return Mul(this, mask);
    }

    /// <summary>Rows of <paramref name="table"/> [V, D] picked by int32 <paramref name="ids"/> of any shape → [ids..., D].</summary>
    public static Tensor Embedding(Tensor table, Tensor ids)
    {
        table.CheckFloat("embedding", "table");
        if (ids.DType != DType.Int32)
            throw new ArgumentException($"embedding: ids must be int32, but {ids.Describe()} is {ids.DType.Name()}");
        if (table.Rank != 2) throw new ArgumentException($"embedding: table must be [vocab, dim], got {table.Describe()}");
        CheckSameDevice("embedding", table, ids);
        int vocab = table._shape[0], dim = table._shape[1];
        var t = table.Contiguous();
        var i = ids.IsContiguous ? ids : ids.ContiguousCopy();
        var y = Empty(ids._shape.Append(dim).ToArray(), DType.Float32, table.Device);
        try
        {
            table.Backend.Gather(t.Dense, vocab, dim, i.Dense, ids.Count, y.Dense);
        }
        catch (ArgumentOutOfRangeException e)
        {
            y.Dispose();
            throw new ArgumentOutOfRangeException($"embedding: an id is outside the table {table.Describe()} (vocab "
                + $"{vocab}): {e.Message}", e);
        }
        return Finish(y, "embedding", new[] { table, ids }, g =>
        {
            var gc = g.Contiguous();
            var gt = Full(new[] { vocab, dim }, 0f, g.Device);
            g.Backend.ScatterAdd(gc.Dense, i.Dense, ids.Count, dim, gt.Dense, vocab);
            return new[] { gt, null };
        }, i);
    }

    /// <summary>
    /// Cross-entropy of logits [N, C] (or [..., C]) against int32 class targets [N] (or [...]).
    /// Targets equal to <paramref name="ignoreIndex"/> contribute nothing; "mean" divides by the others' count.
    /// </summary>
    public Tensor CrossEntropy(Tensor targets, int ignoreIndex = -100, Reduction reduction = Reduction.Mean)
    {
        CheckFloat("cross_entropy", "logits");
        if (targets.DType != DType.Int32)
            throw new ArgumentException($"cross_entropy: targets must be int32 class indices, but {targets.Describe()} is "
                + $"{targets.DType.Name()}");
        CheckSameDevice("cross_entropy", this, targets);
        if (Rank < 1 || !_shape[..^1].AsSpan().SequenceEqual(targets._shape))
            throw new ArgumentException($"cross_entropy: logits {Describe()} need targets of shape "
                + $"{Shp(Rank < 1 ? _shape : _shape[..^1])}, got {targets.Describe()}");
        var (rows, classes) = Rows();
        var logp = LogSoftmax();
        var t = targets.IsContiguous ? targets : targets.ContiguousCopy();
        var loss = Empty(new[] { rows }, DType.Float32, Device);
        var weight = Empty(new[] { rows }, DType.Float32, Device);
        try
        {
            Backend.NllLoss(logp.Dense, t.Dense, rows, classes, ignoreIndex, loss.Dense, weight.Dense);
        }
        catch (ArgumentOutOfRangeException e)
        {
            loss.Dispose();
            weight.Dispose();
            throw new ArgumentOutOfRangeException($"cross_entropy: a target is not a class of logits {Describe()} ({classes} classes, "
                + $"ignore_index {ignoreIndex}): {e.Message}", e);
        }
        var perRow = Finish(loss, "nll_loss", new[] { logp }, g =>
        {
            var gc = g.Contiguous();
            var glogp = Empty(new[] { rows, classes }, DType.Float32, g.Device);
            g.Backend.NllLossBackward(gc.Dense, t.Dense, rows, classes, ignoreIndex, glogp.Dense);
            return new[] { glogp.View(logp._shape) };
        }, t);
        return reduction switch
        {
            Reduction.None => perRow.Reshape(targets._shape),
            Reduction.Sum => perRow.Sum(),
            _ => perRow.Sum() / weight.Sum(),
        };
    }

    /// <summary>Joins tensors of equal shape except along <paramref name="dim"/>.</summary>
    public static Tensor Concat(IReadOnlyList<Tensor> tensors, int dim)
    {
        if (tensors.Count == 0) throw new ArgumentException("concat: no tensors given");
        var first = tensors[0];
        int d = NormalizeDim("concat", dim, first.Rank);
        var shape = (int[])first._shape.Clone();
        shape[d] = 0;
        for (int i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            CheckSameDevice("concat", first, t);
            if (t.DType != first.DType)
                throw new ArgumentException($"concat: tensor {i} is {t.DType.Name()}, tensor 0 is {first.DType.Name()}");
            bool same = t.Rank == first.Rank;
            for (int j = 0; same && j < t.Rank; j++) same = j == d || t._shape[j] == first._shape[j];
            if (!same)
                throw new ArgumentException($"concat: tensor {i} {t.Describe()} does not match tensor 0 "
                    + $"{first.Describe()} outside dim {d}");
            shape[d] = checked(shape[d] + t._shape[d]);
        }
        var y = Empty(shape, first.DType, first.Device);
        var starts = new int[tensors.Count];
        int offset = 0;
        for (int i = 0; i < tensors.Count; i++)
        {
            starts[i] = offset;
            using (var window = y.NarrowNoGrad(d, offset, tensors[i]._shape[d])) window.CopyFrom(tensors[i]);
            offset += tensors[i]._shape[d];
        }
        var inputs = tensors.ToArray();
        return Finish(y, "concat", inputs, g =>
            inputs.Select((t, i) => t.RequiresGrad ? g.Narrow(d, starts[i], t._shape[d]) : null).ToArray());
    }
}
