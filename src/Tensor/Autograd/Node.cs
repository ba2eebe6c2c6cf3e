namespace Finetune.Autograd;

/// <summary>
/// One recorded op: its inputs, the tensors its backward reads, and the backward itself, which maps the
/// output's gradient to one gradient per input (null where an input needs none).
/// </summary>
internal sealed class Node
{
    public Node(string op, Tensor[] inputs, Func<Tensor, Tensor?[]> backward, Tensor[] saved)
    {
        Op = op;
        Inputs = inputs;
        BackwardFn = backward;
        Saved = saved;
    }

    public string Op { get; }

    /// <summary>The profiler scope (module path) the forward ran in, so its backward kernels are attributed there too.</summary>
    public string Scope { get; } = Kernels.Profiling.KernelProfiler.CurrentScope;

    public Tensor[] Inputs { get; }

    public Tensor[] Saved { get; private set; }

    public Func<Tensor, Tensor?[]>? BackwardFn { get; private set; }

    public string InputShapes => string.Join(", ", Inputs.Select(i => i.Describe()));

    /// <summary>Drops the backward and what it saved, so a second walk fails clearly.</summary>
    public void Free()
    {
        BackwardFn = null;
        Saved = Array.Empty<Tensor>();
    }
}
