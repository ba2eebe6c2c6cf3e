using Finetune.Kernels;

namespace Finetune.Nn;

/// <summary>
/// A learnable tensor owned by a <see cref="Module"/>. Its value escapes every <see cref="TensorScope"/>
/// (it lives until the module is disposed) and requires grad unless frozen; a frozen parameter keeps no
/// gradient buffer, so an optimizer that skips <see cref="Trainable"/> = false parameters holds no state for it.
/// </summary>
public sealed class Parameter : IDisposable
{
    private Tensor _value;

    public Parameter(Tensor value, bool trainable = true)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.DType != DType.Float32)
            throw new ArgumentException($"parameter: only float32 tensors can be parameters, got {value.DType.Name()} {value.Describe()}");
        _value = Adopt(value, trainable);
    }

    /// <summary>The tensor used in forward passes; a leaf of the graph.</summary>
    public Tensor Value => _value;

    /// <summary>The accumulated gradient, or null (always null while frozen).</summary>
    public Tensor? Grad => _value.Grad;

    public bool Trainable => _value.RequiresGrad;

    public IReadOnlyList<int> Shape => _value.Shape;

    public long Count => _value.Count;

    public Device Device => _value.Device;

    /// <summary>Stops gradients to this parameter and frees its gradient buffer.</summary>
    public void Freeze()
    {
        _value.ZeroGrad();
        _value.RequiresGrad = false;
    }

    public void Unfreeze() => _value.RequiresGrad = true;

    public void ZeroGrad() => _value.ZeroGrad();

    /// <summary>Overwrites the values in place (outside autograd); the shape must match.</summary>
    public void CopyFrom(Tensor source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (!source.ShapeEquals(_value))
            throw new ArgumentException($"parameter '{_value.Name}': cannot copy a tensor of shape {source.Describe()} into "
                + $"shape {_value.Describe()}");
        if (source.DType != DType.Float32)
            throw new ArgumentException($"parameter '{_value.Name}': cannot copy {source.DType.Name()} values into a float32 parameter");
        if (source.Device == _value.Device)
        {
            _value.CopyFrom(source);
            return;
        }
        using var moved = source.Detach().To(_value.Device);
        _value.CopyFrom(moved);
    }

    /// <summary>this += alpha · delta, in place and outside autograd (weight merges, hand-written updates).</summary>
    public void AddInPlace(Tensor delta, float alpha = 1f)
    {
        ArgumentNullException.ThrowIfNull(delta);
        if (!delta.ShapeEquals(_value))
            throw new ArgumentException($"parameter '{_value.Name}': cannot add a tensor of shape {delta.Describe()} to "
                + $"shape {_value.Describe()}");
        using var noGrad = GradMode.NoGrad();
        using var scaled = alpha == 1f ? delta.Detach() : delta.Scale(alpha);
        _value.AddInPlace(scaled);
    }

    /// <summary>Moves the value to <paramref name="device"/>; the gradient is dropped.</summary>
    public void To(Device device)
    {
        if (device == _value.Device) return;
        bool trainable = Trainable;
        Tensor moved;
        using (GradMode.NoGrad()) moved = _value.Detach().To(device);
        moved.Name = _value.Name;
        var old = _value;
        _value = Adopt(moved, trainable);
        old.Dispose();
    }

    internal string? Name
    {
        get => _value.Name;
        set => _value.Name = value;
    }

    public void Dispose() => _value.Dispose();

    public override string ToString() => $"Parameter {_value}";

    public static implicit operator Tensor(Parameter p) => p.Value;

    private static Tensor Adopt(Tensor value, bool trainable)
    {
        // A parameter is a leaf: a tensor computed by ops is cut from its graph.
        var t = value.IsLeaf ? value : value.Detach();
        t.Keep();
        t.RequiresGrad = trainable;
        return t;
    }
}
