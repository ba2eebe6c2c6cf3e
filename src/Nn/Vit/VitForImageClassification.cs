using Finetune.Kernels;

namespace Finetune.Nn;

/// <summary>A ViT with a classification head on the class token (HF names <c>vit.*</c>, <c>classifier.*</c>).</summary>
public sealed class VitForImageClassification : Module
{
    public VitForImageClassification(VitModel vit, int numLabels, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(vit);
        if (numLabels <= 0)
            throw new ArgumentOutOfRangeException(nameof(numLabels), numLabels, "vit classifier: numLabels must be positive");
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
