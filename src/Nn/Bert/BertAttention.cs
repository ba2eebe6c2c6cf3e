using Finetune.Kernels;

namespace Finetune.Nn;

/// <summary>HF <c>attention</c>: self-attention and its output projection.</summary>
public sealed class BertAttention : Module
{
    public BertAttention(BertConfig config, Generator? generator = null)
    {
        RegisterModule("self", new BertSelfAttention(config, generator));
        RegisterModule("output", new BertProjection(config.HiddenSize, config, generator));
    }

    public BertSelfAttention Self => Child<BertSelfAttention>("self");

    public BertProjection Output => Child<BertProjection>("output");
}
