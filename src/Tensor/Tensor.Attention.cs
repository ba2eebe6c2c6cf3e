using Finetune.Kernels;

namespace Finetune;

public sealed partial class Tensor
{
    /// <summary>True when the backend of <paramref name="device"/> has fused attention (<see cref="IAttentionKernels"/>).</summary>
    public static bool HasFusedAttention(Device device) => Backends.For(device) is IAttentionKernels;

    /// <summary>
    /// Scaled dot-product attention in one op (FlashAttention-2 on the backend): for each batch item and head,
    /// drop(softmax(scale·Q·Kᵀ + mask))·V, with query [B, Tq, H, d], key and value [B, Tk, H, d] (the layout of a
    /// projection's output split into heads, so no transpose is copied; any strides with a contiguous head dim) and the
    /// result [B, Tq, H, d]. <paramref name="additiveMask"/> is [B, 1, 1, Tk] or [1, 1, 1, Tk] (added to every query's
    /// scores; a constant) or null. Dropout with probability <paramref name="dropout"/> draws from
    /// <paramref name="generator"/>'s Philox stream the elements the composed <c>probs.Dropout(p)</c> over the
    /// [B, H, Tq, Tk] probabilities would, and reserves as many counters, so fused and composed runs stay in step.
    /// No [Tq, Tk] tensor is stored: backward recomputes the scores from Q, K and two statistics per query row. A query row
    /// whose scores are all −∞ (composed: NaN) gives zeros and no gradient; the models' finite −1e9 padding mask makes
    /// a fully padded row attend uniformly, exactly as the composed path.
    /// </summary>
    public static Tensor Attention(Tensor query, Tensor key, Tensor value, Tensor? additiveMask, float scale, float dropout = 0f,
        Generator? generator = null)
    {
        const string op = "attention";
        query.CheckFloat(op, "query");
        key.CheckFloat(op, "key");
        value.CheckFloat(op, "value");
        CheckSameDevice(op, query, key);
        CheckSameDevice(op, query, value);
        if (query.Rank != 4 || key.Rank != 4 || !key.ShapeEquals(value))
            throw new ArgumentException($"{op}: query {query.Describe()} must be [batch, queries, heads, headDim] and key "
                + $"{key.Describe()} and value {value.Describe()} the same [batch, keys, heads, headDim]");
        int b = query._shape[0], tq = query._shape[1], heads = query._shape[2], d = query._shape[3], tk = key._shape[1];
        if (key._shape[0] != b || key._shape[2] != heads || key._shape[3] != d)
            throw new ArgumentException($"{op}: key {key.Describe()} must be [{b}, keys, {heads}, {d}] for query {query.Describe()}");
        if (tk == 0 || d == 0) throw new ArgumentException($"{op}: key {key.Describe()} needs at least one key and one head dim");
        int maskStride = 0;
        if (additiveMask is not null)
        {
            additiveMask.CheckFloat(op, "mask");
            CheckSameDevice(op, query, additiveMask);
            var m = additiveMask._shape;
            if (m.Length != 4 || (m[0] != b && m[0] != 1) || m[1] != 1 || m[2] != 1 || m[3] != tk)
                throw new ArgumentException(
                    $"{op}: mask {additiveMask.Describe()} must be [{b} or 1, 1, 1, {tk}] for key {key.Describe()}");
            if (additiveMask.RequiresGrad && GradMode.IsEnabled)
                throw new ArgumentException($"{op}: the mask {additiveMask.Describe()} is a constant here; a mask that needs a gradient "
                    + "runs composed (ScaledMaskedSoftmax)");
            maskStride = m[0] == 1 ? 0 : tk;
        }
        if (!float.IsFinite(scale)) throw new ArgumentOutOfRangeException(nameof(scale), scale, $"{op}: scale must be finite");
        if (!(dropout >= 0f && dropout < 1f))
            throw new ArgumentOutOfRangeException(nameof(dropout), dropout, $"{op}: dropout must be in [0, 1)");
        if (query.Buffer.Backend is not IAttentionKernels)
            throw new NotSupportedException(
                $"{op}: the {query.Device} backend has no fused attention (check Tensor.HasFusedAttention first)");

        var q = HeadContiguous(query);
        var k = HeadContiguous(key);
        var v = HeadContiguous(value);
        var mask = additiveMask?.Contiguous();
        var shape = new AttentionShape(b, heads, tq, tk, d, maskStride, scale, 0, q.HeadStrides(), k.HeadStrides(), v.HeadStrides(),
            AttentionStrides.Packed(tq, heads, d));
        var y = Empty(new[] { b, tq, heads, d }, DType.Float32, query.Device);
        var stats = Empty(new[] { b, heads, tq, 2 }, DType.Float32, query.Device);
        var g = generator ?? Generator.Default;
        var stream = dropout > 0f ? new DropoutStream(g.Seed, g.Reserve(shape.Probabilities), dropout) : DropoutStream.None;
        if (y.Count > 0)
            ((IAttentionKernels)query.Backend).AttentionForward(shape, q.Base, k.Base, v.Base, mask?.Dense, y.Dense, stats.Dense, stream);
        var saved = mask is null ? new[] { q, k, v, y, stats } : new[] { q, k, v, y, stats, mask };
        var result = Finish(y, op, new[] { query, key, value }, dy =>
        {
            var go = HeadContiguous(dy);
            var dq = Empty(new[] { b, tq, heads, d }, DType.Float32, dy.Device);
            var dk = Empty(new[] { b, tk, heads, d }, DType.Float32, dy.Device);
            var dv = Empty(new[] { b, tk, heads, d }, DType.Float32, dy.Device);
            if (y.Count == 0)
            {
                dk.Backend.Fill(dk.Dense, dk.Count, 0f);
                dv.Backend.Fill(dv.Dense, dv.Count, 0f);
            }
            else
            {
                using var rowDot = Empty(new[] { b, heads, tq }, DType.Float32, dy.Device);
                ((IAttentionKernels)go.Backend).AttentionBackward(shape with { GradOutput = go.HeadStrides() }, q.Base, k.Base, v.Base,
                    mask?.Dense, y.Dense, stats.Dense, go.Base, rowDot.Dense, dq.Dense, dk.Dense, dv.Dense, stream);
            }
            // One kernel writes all three; the ones no input asked for go back at once.
            var grads = new Tensor?[] { dq, dk, dv };
            var inputs = new[] { query, key, value };
            for (int i = 0; i < 3; i++)
                if (!inputs[i].RequiresGrad)
                {
                    grads[i]!.Dispose();
                    grads[i] = null;
                }
            return grads;
        }, saved);
        // Without a graph (inference) nothing reads the row statistics again: give them back now, not at the scope's end.
        if (result.GradFn is null) stats.Dispose();
        return result;
    }

    /// <summary>This tensor when its last dim is contiguous (any other strides are kernel arguments), else a contiguous copy.</summary>
    private static Tensor HeadContiguous(Tensor t) => t._strides[^1] == 1 || t._shape[^1] == 1 ? t : t.Contiguous();

    /// <summary>Strides of a [batch, length, heads, headDim] tensor as the attention kernels take them.</summary>
    private AttentionStrides HeadStrides() => new(_strides[0], _strides[1], _strides[2]);

    /// <summary>The first element of a strided tensor, for kernels that take the strides separately.</summary>
    private Dense Base => new(Buffer, _offset);
}
