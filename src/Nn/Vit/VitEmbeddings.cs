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
        ClassToken = RegisterParameter("cls_token", new Parameter(Tensor.Normal(new[] { 1, 1, config.HiddenSize }, 0f,
            config.InitializerRange, generator)));
        Positions = RegisterParameter("position_embeddings",
            new Parameter(Tensor.Normal(new[] { 1, config.NumPatches + 1, config.HiddenSize }, 0f, config.InitializerRange, generator)));
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
        if (pixels.DType != DType.Float32 || pixels.Rank != 4 || pixels.Size(1) != c.Channels || pixels.Size(2) != c.ImageSize
            || pixels.Size(3) != c.ImageSize)
            throw new ArgumentException($"vit embeddings: pixels must be float32 [batch, {c.Channels}, {c.ImageSize}, {c.ImageSize}], got "
                + $"{pixels.DType.Name()} {pixels.Describe()}");
        int b = pixels.Size(0), g = c.Grid, p = c.PatchSize;
        var patches = pixels.Reshape(b, c.Channels, g, p, g, p).Permute(0, 2, 4, 1, 3, 5).Reshape(b, c.NumPatches, c.PatchDim);
        var tokens = Child<Layer>("patch_embeddings").Forward(patches);
        var cls = ClassToken.Value.Expand(b, 1, c.HiddenSize);
        var x = Tensor.Concat(new[] { cls, tokens }, 1) + Positions.Value;
        return Child<Layer>("dropout").Forward(x);
    }
}
