using Finetune.Kernels;

namespace Finetune.Nn;

/// <summary>A module with one input and one output: the kind an injection can wrap or replace.</summary>
public abstract class Layer : Module
{
    public abstract Tensor Forward(Tensor input);
}
