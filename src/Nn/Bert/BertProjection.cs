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

    /// <summary>
    /// <see cref="ProjectAdd"/> as one GEMM with a bias + dropout + residual epilogue (true, the default where the device has
    /// the kernels) or the composed Linear, Dropout and add (false, <c>--unfused</c>). A dense layer replaced by an injection
    /// always runs composed.
    /// </summary>
    public bool Fused { get; set; } = true;

    /// <summary>dropout(dense(x)), without the residual and the norm.</summary>
    public Tensor Project(Tensor x) => Child<Layer>("dropout").Forward(Dense.Forward(x));

    /// <summary>residual + dropout(dense(x)), the sublayer's output before the norm.</summary>
    public Tensor ProjectAdd(Tensor x, Tensor residual)
    {
        if (Fused && Dense is Linear linear && Child<Layer>("dropout") is Dropout dropout && Tensor.HasGemmEpilogues(x.Device))
        {
            using var scope = ProfileScope();
            return Tensor.LinearEpilogue(x, linear.Weight.Value, linear.Bias?.Value, EpilogueActivation.None,
                dropout.Training ? dropout.P : 0f, dropout.Generator, residual);
        }
        return residual + Project(x);
    }
}
