namespace Finetune.Nn;

/// <summary>A module with one input and one output: the kind an injection can wrap or replace.</summary>
public abstract class Layer : Module
{
    /// <summary>Runs the layer inside a profiler scope named by its path (<see cref="Module.ProfileScope"/>).</summary>
    public Tensor Forward(Tensor input)
    {
        using var scope = ProfileScope();
        return ForwardCore(input);
    }

    protected abstract Tensor ForwardCore(Tensor input);
}
