using Finetune.Kernels;

namespace Finetune.Nn;

/// <summary>HF <c>intermediate</c>: the first feed-forward projection and its activation.</summary>
public sealed class BertIntermediate : Layer
{
    public BertIntermediate(BertConfig config, Generator? generator = null)
    {
        RegisterModule("dense", Linear.WithNormalInit(config.HiddenSize, config.IntermediateSize, config.InitializerRange, generator));
        RegisterModule("intermediate_act_fn", new Gelu(config.HiddenAct != "gelu"));
    }

    /// <summary>
    /// One GEMM with a bias + GELU epilogue (true, the default where the device has the kernels) or the composed Linear and
    /// GELU (false, <c>--unfused</c>). A dense layer replaced by an injection, or the tanh GELU, always runs composed.
    /// </summary>
    public bool Fused { get; set; } = true;

    protected override Tensor ForwardCore(Tensor input)
    {
        var dense = Child<Layer>("dense");
        var act = Child<Layer>("intermediate_act_fn");
        if (Fused && dense is Linear linear && act is Gelu { TanhApproximation: false } && Tensor.HasGemmEpilogues(input.Device))
            return Tensor.LinearEpilogue(input, linear.Weight.Value, linear.Bias?.Value, EpilogueActivation.GeluErf);
        return act.Forward(dense.Forward(input));
    }
}
