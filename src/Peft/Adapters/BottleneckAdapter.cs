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

    /// <summary>Runs <see cref="Tensor.BottleneckAdapter"/> (version 2) instead of the composed ops (version 1).</summary>
    public bool Fused { get; set; } = true;

    public Tensor Forward(Tensor sublayerInput, Tensor sublayerOutput)
    {
        using var profileScope = ProfileScope();
        if (Fused)
        {
            Linear down = Child<Linear>("down"), up = Child<Linear>("up");
            return Tensor.BottleneckAdapter(Parallel ? sublayerInput : sublayerOutput, sublayerOutput, down.Weight.Value,
                down.Bias!.Value, up.Weight.Value, up.Bias!.Value, Scaling, Gelu);
        }
        var z = Child<Layer>("down").Forward(Parallel ? sublayerInput : sublayerOutput);
        var delta = Child<Layer>("up").Forward(Gelu ? z.Gelu() : z.Relu());
        return sublayerOutput + (Scaling == 1f ? delta : delta * Scaling);
    }
}
