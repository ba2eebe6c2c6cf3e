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
            var h = x + Adapt(Hooks.AttentionAdapter, normed, attn.Output.Project(attn.Self.Forward(normed, additiveMask)));
            var normedH = ffnOut.LayerNorm.Forward(h);
            return h + Adapt(Hooks.OutputAdapter, normedH, ffnOut.Project(Intermediate.Forward(normedH)));
        }
        var h1 = attn.Output.LayerNorm.Forward(x + Adapt(Hooks.AttentionAdapter, x,
            attn.Output.Project(attn.Self.Forward(x, additiveMask))));
        return ffnOut.LayerNorm.Forward(h1 + Adapt(Hooks.OutputAdapter, h1, ffnOut.Project(Intermediate.Forward(h1))));
    }

    private Tensor Adapt(string hook, Tensor input, Tensor output) =>
        FindChild<ISublayerAdapter>(hook) is { } adapter ? adapter.Forward(input, output) : output;
}
