using Finetune.Nn;

namespace Finetune.Peft.IA3;

/// <summary>A frozen Linear whose output (or, for feed-forward targets, input) is multiplied by a learned vector <c>ia3_l</c>.</summary>
public sealed class Ia3Linear : Layer, IWrappingLayer, IMergeableLayer
{
    private Tensor? _weightBefore, _biasBefore;

    public Ia3Linear(Linear baseLayer, bool feedforward)
    {
        ArgumentNullException.ThrowIfNull(baseLayer);
        IsFeedforward = feedforward;
        baseLayer.Freeze();
        RegisterModule("base_layer", baseLayer);
        Scaling = RegisterParameter("ia3_l", new Parameter(Tensor.Ones(feedforward ? baseLayer.InFeatures : baseLayer.OutFeatures)));
    }

    public bool IsFeedforward { get; }

    public Parameter Scaling { get; }

    public Linear BaseLayer => Child<Linear>("base_layer");

    /// <summary>True while ia3_l is folded into the base weight (the forward is then the plain Linear).</summary>
    public bool Merged => _weightBefore is not null;

    protected override Tensor ForwardCore(Tensor input)
    {
        if (Merged && Training && GradMode.IsEnabled && Scaling.Trainable)
            throw new InvalidOperationException("ia3: the vector is merged into the base weight, so it would get no gradient; call "
                + "Unmerge() before training (or Eval() / GradMode.NoGrad() for inference)");
        if (Merged) return BaseLayer.Forward(input);
        return IsFeedforward ? BaseLayer.Forward(input * Scaling.Value) : BaseLayer.Forward(input) * Scaling.Value;
    }

    /// <summary>
    /// Folds ia3_l into the base Linear as PEFT does: feed-forward targets scale W's columns (x·l·Wᵀ = x·(W·diag l)ᵀ), the others
    /// W's rows and the bias (l ∘ (x·Wᵀ + b)). The weights before are kept, so <see cref="Unmerge"/> is exact even where l holds a 0.
    /// </summary>
    public void Merge()
    {
        if (Merged) throw new InvalidOperationException("ia3: already merged");
        using var scope = TensorScope.Begin();
        using var noGrad = GradMode.NoGrad();
        var baseLayer = BaseLayer;
        var l = Scaling.Value;
        _weightBefore = baseLayer.Weight.Value.Clone().Keep();
        baseLayer.Weight.CopyFrom(baseLayer.Weight.Value * (IsFeedforward ? l.Unsqueeze(0) : l.Unsqueeze(1)));
        if (!IsFeedforward && baseLayer.Bias is { } bias)
        {
            _biasBefore = bias.Value.Clone().Keep();
            bias.CopyFrom(bias.Value * l);
        }
    }

    /// <summary>Restores the base weight and bias exactly.</summary>
    public void Unmerge()
    {
        if (_weightBefore is not { } weight) throw new InvalidOperationException("ia3: not merged");
        BaseLayer.Weight.CopyFrom(weight);
        if (_biasBefore is { } bias) BaseLayer.Bias!.CopyFrom(bias);
        weight.Dispose();
        _biasBefore?.Dispose();
        _weightBefore = _biasBefore = null;
    }
}
