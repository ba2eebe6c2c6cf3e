using Finetune.Kernels;

namespace Finetune.Nn;

/// <summary>
/// Multi-head scaled dot-product self-attention (HF <c>attention.self</c>): query/key/value projections, an
/// additive padding mask, softmax, dropout on the probabilities; returns the heads concatenated, before the output projection.
/// </summary>
public sealed class BertSelfAttention : Module
{
    public BertSelfAttention(BertConfig config, Generator? generator = null)
    {
        NumHeads = config.NumHeads;
        HeadDim = config.HeadDim;
        int h = config.HiddenSize;
        RegisterModule("query", Linear.WithNormalInit(h, h, config.InitializerRange, generator));
        RegisterModule("key", Linear.WithNormalInit(h, h, config.InitializerRange, generator));
        RegisterModule("value", Linear.WithNormalInit(h, h, config.InitializerRange, generator));
        RegisterModule("dropout", new Dropout(config.AttentionDropout, generator));
    }

    public int NumHeads { get; }

    public int HeadDim { get; }

    /// <summary>
    /// Fused attention (true, the default wherever the device has it: <see cref="Tensor.Attention"/>, no [B, heads, T, T]
    /// tensor) or the composed ops (false: Q·Kᵀ, masked softmax, dropout, ·V, kept for profiling comparisons). A runtime
    /// choice; both give the same numbers within float rounding and draw the same dropout.
    /// </summary>
    public bool Fused { get; set; } = true;

    /// <summary>Sets <see cref="Fused"/> on every self-attention inside <paramref name="model"/>.</summary>
    public static void SetFused(Module model, bool fused)
    {
        foreach (var attention in model.NamedModules().Select(m => m.Value).OfType<BertSelfAttention>()) attention.Fused = fused;
    }

    /// <summary>x [B, T, H]; <paramref name="additiveMask"/> broadcastable to [B, heads, T, T] (0 keep, large negative drop).</summary>
    public Tensor Forward(Tensor x, Tensor? additiveMask)
    {
        using var profileScope = ProfileScope();
        int b = x.Size(0), t = x.Size(1);
        var (queries, keys, values) = Project(x);
        int tk = t;
        if (FindChild<IKeyValuePrefix>(Hooks.Prefix) is { } prefix)
        {
            var (pk, pv) = prefix.KeysAndValues(b);
            keys = Tensor.Concat(new[] { pk, keys }, 1);
            values = Tensor.Concat(new[] { pv, values }, 1);
            tk += prefix.Length;
            // Every query may attend to every prefix position.
            if (additiveMask is not null)
                additiveMask = Tensor.Concat(new[]
                {
                    Tensor.Zeros(new[] { additiveMask.Size(0), additiveMask.Size(1), additiveMask.Size(2), prefix.Length }, x.Device),
                    additiveMask
                }, 3);
        }
        float scale = 1f / MathF.Sqrt(HeadDim);
        var dropout = Child<Layer>("dropout");
        if (UseFused(x.Device, additiveMask, b, tk, dropout) is { } drop)
        {
            // [B, T, H] is already [B, T, heads, headDim]: the fused op reads the heads in place and writes the same layout.
            var context = Tensor.Attention(queries.View(b, t, NumHeads, HeadDim), keys.View(b, tk, NumHeads, HeadDim),
                values.View(b, tk, NumHeads, HeadDim), additiveMask, scale, drop.Training ? drop.P : 0f, drop.Generator);
            return context.View(b, t, NumHeads * HeadDim);
        }
        var q = SplitHeads(queries, b, t);
        var k = SplitHeads(keys, b, tk);
        var v = SplitHeads(values, b, tk);
        var scores = q.Matmul(k.Transpose(-1, -2));
        var probs = dropout.Forward(scores.ScaledMaskedSoftmax(scale, additiveMask));
        var composed = probs.Matmul(v);
        return composed.Transpose(1, 2).Reshape(b, t, NumHeads * HeadDim);
    }

    /// <summary>
    /// The dropout layer when the fused op applies: <see cref="Fused"/>, a device with the kernels, a plain dropout layer and a
    /// constant padding mask of one row per batch item (any other mask runs composed).
    /// </summary>
    private Dropout? UseFused(Device device, Tensor? mask, int batch, int keys, Layer dropout)
    {
        if (!Fused || dropout is not Dropout drop || !Tensor.HasFusedAttention(device)) return null;
        if (mask is null) return drop;
        bool rows = mask.Rank == 4 && (mask.Size(0) == batch || mask.Size(0) == 1) && mask.Size(1) == 1 && mask.Size(2) == 1
            && mask.Size(3) == keys;
        return rows && !(mask.RequiresGrad && GradMode.IsEnabled) ? drop : null;
    }

    /// <summary>Query, key and value of x: one fused LoRA op when all three offer one (LoRA_QKV), else the three layers.</summary>
    private (Tensor Query, Tensor Key, Tensor Value) Project(Tensor x)
    {
        Layer query = Child<Layer>("query"), key = Child<Layer>("key"), value = Child<Layer>("value");
        if (query is IFusedLoraProjection fq && key is IFusedLoraProjection fk && value is IFusedLoraProjection fv
            && fq.FusedProjection(x.Device) is { } pq && fk.FusedProjection(x.Device) is { } pk && fv.FusedProjection(x.Device) is { } pv)
        {
            var qkv = Tensor.LoraQkv(x, pq, pk, pv);
            return (qkv[0], qkv[1], qkv[2]);
        }
        return (query.Forward(x), key.Forward(x), value.Forward(x));
    }

    /// <summary>[B, T, H] → [B, heads, T, headDim] as a view.</summary>
    private Tensor SplitHeads(Tensor y, int b, int t) => y.View(b, t, NumHeads, HeadDim).Transpose(1, 2);
}
