using Finetune.Nn;

namespace Finetune.Peft.IA3;

/// <summary>A frozen Linear whose output (or, for feed-forward targets, input) is multiplied by a learned vector <c>ia3_l</c>.</summary>
public sealed class Ia3Linear : Layer, IWrappingLayer
{
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

    protected override Tensor ForwardCore(Tensor input) => IsFeedforward
        ? BaseLayer.Forward(input * Scaling.Value)
        : BaseLayer.Forward(input) * Scaling.Value;
}
