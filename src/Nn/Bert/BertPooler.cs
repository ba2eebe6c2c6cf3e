using Finetune.Kernels;

namespace Finetune.Nn;

/// <summary>HF <c>pooler</c>: tanh(dense(hidden state of the first token)).</summary>
public sealed class BertPooler : Layer
{
    public BertPooler(BertConfig config, Generator? generator = null) =>
        RegisterModule("dense", Linear.WithNormalInit(config.HiddenSize, config.HiddenSize, config.InitializerRange, generator));

    /// <summary>[B, T, H] → [B, H].</summary>
    protected override Tensor ForwardCore(Tensor input) =>
        Child<Layer>("dense").Forward(input.Narrow(1, 0, 1).Squeeze(1)).Tanh();
}
