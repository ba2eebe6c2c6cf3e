using Finetune.Kernels;

namespace Finetune.Nn;

/// <summary>A projection, dropout and a LayerNorm (HF <c>attention.output</c> and <c>output</c>).</summary>
public sealed class BertProjection : Module
{
    public BertProjection(int inFeatures, BertConfig config, Generator? generator = null)
    {
        RegisterModule("dense", Linear.WithNormalInit(inFeatures, config.HiddenSize, config.InitializerRange, generator));
        RegisterModule("LayerNorm", new LayerNorm(config.HiddenSize, config.LayerNormEps));
        RegisterModule("dropout", new Dropout(config.HiddenDropout, generator));
    }

    public Layer Dense => Child<Layer>("dense");

    public Layer LayerNorm => Child<Layer>("LayerNorm");

    /// <summary>dropout(dense(x)), without the residual and the norm.</summary>
    public Tensor Project(Tensor x) => Child<Layer>("dropout").Forward(Dense.Forward(x));
}
