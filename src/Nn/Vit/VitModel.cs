using Finetune.Kernels;

namespace Finetune.Nn;

/// <summary>
/// A ViT encoder (HF names <c>embeddings.*</c>, <c>encoder.layer.N.*</c>, <c>layernorm.*</c>): pre-LN BERT layers over
/// [class token, patches], then a final LayerNorm. A <see cref="Hooks.Prompt"/> child inserts learned tokens right
/// after the class token (VPT): once before the first layer (shallow) or fresh before every layer (deep).
/// </summary>
public sealed class VitModel : Module
{
    public VitModel(VitConfig config, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        RegisterModule("embeddings", new VitEmbeddings(config, generator));
        RegisterModule("encoder", new BertEncoder(config.Encoder, generator));
        RegisterModule("layernorm", new LayerNorm(config.HiddenSize, config.LayerNormEps));
    }

    public VitConfig Config { get; }

    public VitEmbeddings Embeddings => Child<VitEmbeddings>("embeddings");

    public BertEncoder Encoder => Child<BertEncoder>("encoder");

    /// <summary>The last hidden state [B, 1 + prompt + patches, hidden]; the class token is position 0.</summary>
    public Tensor Forward(Tensor pixels)
    {
        var x = Embeddings.Forward(pixels);
        var prompt = FindChild<IPromptTokens>(Hooks.Prompt);
        if (prompt is not null && prompt.Depth != 1 && prompt.Depth != Encoder.Count)
            throw new InvalidOperationException($"vit: a prompt of depth {prompt.Depth} fits neither shallow (1) nor deep "
                + $"({Encoder.Count} layers) prompting");
        int b = x.Size(0);
        for (int i = 0; i < Encoder.Count; i++)
        {
            if (prompt is not null && i < prompt.Depth)
            {
                // Layer 0 inserts the prompt; deeper layers replace the previous layer's prompt outputs with their own.
                int skip = i == 0 ? 0 : prompt.Length;
                var rest = x.Narrow(1, 1 + skip, x.Size(1) - 1 - skip);
                x = Tensor.Concat(new[] { x.Narrow(1, 0, 1), prompt.Tokens(i, b), rest }, 1);
            }
            x = Encoder[i].Forward(x, null);
        }
        return Child<Layer>("layernorm").Forward(x);
    }
}
