using Finetune.Nn;

namespace Finetune.Peft.Adapters;

/// <summary>
/// out + s·up(f(down(z))), z the sublayer's output (sequential) or input (parallel). The up-projection starts at zero,
/// so a fresh adapter is the identity. Children: <c>down</c>, <c>up</c>.
/// </summary>
public sealed class BottleneckAdapter : Module, ISublayerAdapter
{
    public BottleneckAdapter(int hidden, int bottleneck, bool parallel, float scaling, string nonLinearity, Generator generator)
    {
        Parallel = parallel;
        Scaling = scaling;
        Gelu = nonLinearity == "gelu";
        RegisterModule("down", new Linear(hidden, bottleneck, bias: true, generator));
        using (GradMode.NoGrad()) RegisterModule("up", new Linear(Tensor.Zeros(hidden, bottleneck), Tensor.Zeros(hidden)));
    }

    public bool Parallel { get; }

    public float Scaling { get; }

    public bool Gelu { get; }

    public Tensor Forward(Tensor sublayerInput, Tensor sublayerOutput)
    {
        var z = Child<Layer>("down").Forward(Parallel ? sublayerInput : sublayerOutput);
        var delta = Child<Layer>("up").Forward(Gelu ? z.Gelu() : z.Relu());
        return sublayerOutput + (Scaling == 1f ? delta : delta * Scaling);
    }
}
