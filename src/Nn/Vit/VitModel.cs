using Finetune.Kernels;

namespace Finetune.Nn;

/// <summary>
/// Patch embedding (non-overlapping patches cut by reshape/permute, then a Linear, which equals HF's stride-p Conv2d),
/// a learned class token and learned positions (HF <c>embeddings.*</c>).
/// </summary>
public sealed class VitEmbeddings : Module
{
    public VitEmbeddings(VitConfig config, Generator? generator = null)
    {
        Config = config;
        RegisterModule("patch_embeddings", Linear.WithNormalInit(config.PatchDim, config.HiddenSize, config.InitializerRange, generator));
        ClassToken = RegisterParameter("cls_token", new Parameter(Tensor.Normal(new[] { 1, 1, config.HiddenSize }, 0f, config.InitializerRange, generator)));
        Positions = RegisterParameter("position_embeddings", new Parameter(Tensor.Normal(new[] { 1, config.NumPatches + 1, config.HiddenSize }, 0f, config.InitializerRange, generator)));
        RegisterModule("dropout", new Dropout(config.HiddenDropout, generator));
    }

    public VitConfig Config { get; }

    public Parameter ClassToken { get; }

    public Parameter Positions { get; }

    /// <summary>float32 pixels [B, C, H, W] → [B, 1 + patches, hidden].</summary>
    public Tensor Forward(Tensor pixels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        var c = Config;
        if (pixels.DType != DType.Float32 || pixels.Rank != 4 || pixels.Size(1) != c.Channels || pixels.Size(2) != c.ImageSize || pixels.Size(3) != c.ImageSize)
            throw new ArgumentException($"vit embeddings: pixels must be float32 [batch, {c.Channels}, {c.ImageSize}, {c.ImageSize}], got {pixels.DType.Name()} {pixels.Describe()}");
        int b = pixels.Size(0), g = c.Grid, p = c.PatchSize;
        var patches = pixels.Reshape(b, c.Channels, g, p, g, p).Permute(0, 2, 4, 1, 3, 5).Reshape(b, c.NumPatches, c.PatchDim);
        var tokens = Child<Layer>("patch_embeddings").Forward(patches);
        var cls = ClassToken.Value.Expand(b, 1, c.HiddenSize);
        var x = Tensor.Concat(new[] { cls, tokens }, 1) + Positions.Value;
        return Child<Layer>("dropout").Forward(x);
    }
}

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
            throw new InvalidOperationException($"vit: a prompt of depth {prompt.Depth} fits neither shallow (1) nor deep ({Encoder.Count} layers) prompting");
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

/// <summary>A ViT with a classification head on the class token (HF names <c>vit.*</c>, <c>classifier.*</c>).</summary>
public sealed class VitForImageClassification : Module
{
    public VitForImageClassification(VitModel vit, int numLabels, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(vit);
        if (numLabels <= 0) throw new ArgumentOutOfRangeException(nameof(numLabels), numLabels, "vit classifier: numLabels must be positive");
        NumLabels = numLabels;
        RegisterModule("vit", vit);
        RegisterModule("classifier", Linear.WithNormalInit(vit.Config.HiddenSize, numLabels, vit.Config.InitializerRange, generator));
    }

    public VitForImageClassification(VitConfig config, int numLabels, Generator? generator = null)
        : this(new VitModel(config, generator), numLabels, generator)
    {
    }

    public int NumLabels { get; }

    public VitModel Vit => Child<VitModel>("vit");

    public Layer Classifier => Child<Layer>("classifier");

    /// <summary>Logits [B, labels] from pixels [B, C, H, W].</summary>
    public Tensor Forward(Tensor pixels) => Classifier.Forward(Vit.Forward(pixels).Narrow(1, 0, 1).Squeeze(1));

    /// <summary>Freezes the whole encoder, leaving only the head trainable.</summary>
    public void FreezeEncoder() => Vit.Freeze();
}
