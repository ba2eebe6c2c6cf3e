using Finetune.Kernels;

namespace Finetune.Nn;

/// <summary>
/// One Transformer encoder layer with HF BERT names. Post-LN (BERT): h = LN(x + attn(x)), y = LN(h + ffn(h)).
/// Pre-LN (ViT): h = x + attn(LN(x)), y = h + ffn(LN(h)), using the same two LayerNorms.
/// </summary>
public sealed class BertLayer : Module
{
    public BertLayer(BertConfig config, Generator? generator = null)
    {
        PreLayerNorm = config.PreLayerNorm;
        RegisterModule("attention", new BertAttention(config, generator));
        RegisterModule("intermediate", new BertIntermediate(config, generator));
        RegisterModule("output", new BertProjection(config.IntermediateSize, config, generator));
    }

    public bool PreLayerNorm { get; }

    public BertAttention Attention => Child<BertAttention>("attention");

    public BertIntermediate Intermediate => Child<BertIntermediate>("intermediate");

    public BertProjection Output => Child<BertProjection>("output");

    public Tensor Forward(Tensor x, Tensor? additiveMask)
    {
        using var profileScope = ProfileScope();
        var attn = Attention;
        var ffnOut = Output;
        if (PreLayerNorm)
        {
            var normed = attn.Output.LayerNorm.Forward(x);
            var h = Residual(Hooks.AttentionAdapter, attn.Output, normed, attn.Self.Forward(normed, additiveMask), x);
            var normedH = ffnOut.LayerNorm.Forward(h);
            return Residual(Hooks.OutputAdapter, ffnOut, normedH, Intermediate.Forward(normedH), h);
        }
        var h1 = attn.Output.LayerNorm.Forward(Residual(Hooks.AttentionAdapter, attn.Output, x, attn.Self.Forward(x, additiveMask), x));
        return ffnOut.LayerNorm.Forward(Residual(Hooks.OutputAdapter, ffnOut, h1, Intermediate.Forward(h1), h1));
    }

    /// <summary>
    /// residual + adapter(sublayer input, projection) with an adapter on <paramref name="hook"/>; otherwise residual + projection,
    /// which the projection may fuse into its GEMM's epilogue.
    /// </summary>
    private Tensor Residual(string hook, BertProjection projection, Tensor sublayerInput, Tensor projectionInput, Tensor residual) =>
        FindChild<ISublayerAdapter>(hook) is { } adapter
            ? residual + adapter.Forward(sublayerInput, projection.Project(projectionInput))
            : projection.ProjectAdd(projectionInput, residual);

    /// <summary>GEMM epilogues in this layer's projections (see <see cref="BertProjection.Fused"/>) or composed ops.</summary>
    public bool FusedEpilogues
    {
        get => Intermediate.Fused && Attention.Output.Fused && Output.Fused;
        set => Intermediate.Fused = Attention.Output.Fused = Output.Fused = value;
    }
}
