using Finetune.Autograd;
using Finetune.Kernels;

namespace Finetune;

public sealed partial class Tensor
{
    /// <summary>
    /// Backpropagates from this tensor. A scalar seeds itself with 1; a non-scalar needs
    /// <paramref name="gradient"/> of its shape. Leaf gradients accumulate across calls.
    /// </summary>
    public void Backward(Tensor? gradient = null, bool retainGraph = false)
    {
        if (!RequiresGrad)
            throw new InvalidOperationException($"backward: tensor {Describe()} does not require grad and has no graph");
        Tensor seed;
        if (gradient is null)
        {
            if (Count != 1)
                throw new InvalidOperationException($"backward: a gradient must be given for a non-scalar output {Describe()}; only a "
                    + "one-element tensor seeds itself with 1");
            seed = Full(_shape, 1f, Device);
        }
        else
        {
            if (!gradient.ShapeEquals(this))
                throw new ArgumentException($"backward: gradient shape {gradient.Describe()} does not match output shape {Describe()}");
            CheckSameDevice("backward", this, gradient);
            seed = gradient.Alias();
        }
        Backprop.Run(this, seed, retainGraph);
    }

    /// <summary>A tensor sharing this one's memory but cut from the graph.</summary>
    public Tensor Detach() => ViewOf(_shape, _strides, _offset);

    /// <summary>Another tensor object over the same memory and graph position, for bookkeeping.</summary>
    internal Tensor Alias()
    {
        var t = ViewOf(_shape, _strides, _offset);
        t.GradFn = GradFn;
        t._requiresGrad = _requiresGrad;
        return t;
    }

    /// <summary>
    /// Completes an op: checks the output when the NaN finder is on, and records the backward when grad
    /// mode is on and an input requires grad. <paramref name="saved"/> are the tensors the backward reads.
    /// </summary>
    internal static Tensor Finish(Tensor output, string op, Tensor[] inputs, Func<Tensor, Tensor?[]> backward, params Tensor[] saved)
    {
        if (AnomalyMode.IsEnabled) AnomalyMode.Check(op, "forward", output, string.Join(", ", inputs.Select(i => i.Describe())));
        if (!GradMode.IsEnabled) return output;
        foreach (var x in inputs)
        {
            if (!x.RequiresGrad) continue;
            output.GradFn = new Node(op, inputs, backward, saved);
            output._requiresGrad = true;
            break;
        }
        return output;
    }

    /// <summary>this += other (same shape), outside autograd: used for gradient accumulation and optimizers.</summary>
    internal void AddInPlace(Tensor other)
    {
        CheckSameDevice("add_", this, other);
        if (!other.ShapeEquals(this)) throw new ArgumentException($"add_: shapes differ: {Describe()} and {other.Describe()}");
        Backend.Binary(BinaryOp.Add, Strided, other.Strided, Strided);
    }
}
