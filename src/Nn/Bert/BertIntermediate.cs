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

    protected override Tensor ForwardCore(Tensor input) =>
        Child<Layer>("intermediate_act_fn").Forward(Child<Layer>("dense").Forward(input));
}
