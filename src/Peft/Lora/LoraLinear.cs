using Finetune.Kernels;
using Finetune.Nn;

namespace Finetune.Peft.Lora;

/// <summary>
/// A frozen Linear plus a low-rank update: y = base(x) + scale · B(A(dropout(x))), A [r, in] Kaiming-uniform
/// (U(±1/√in), as torch's Linear) from a seeded generator, B [out, r] zero so training starts at the base model.
/// With DoRA the output is rescaled row by row: y = m / ‖W + scale·B·A‖ ⊙ (x·Wᵀ + scale·B(A(dropout(x)))) + b, with the
/// magnitude m [out] learned and initialised to ‖W‖ (the norm is not differentiated, as in the DoRA paper §4.3).
/// Children follow PEFT's names: <c>base_layer</c>, <c>lora_A</c>, <c>lora_B</c>, <c>lora_dropout</c>, <c>lora_magnitude_vector</c>.
/// </summary>
public sealed class LoraLinear : Layer, IWrappingLayer, IMergeableLayer, IFusedLoraProjection
{
    private Tensor? _mergedScale;

    public LoraLinear(Linear baseLayer, int rank, float scale, float dropout = 0f, Generator? generator = null, bool useDora = false)
    {
        ArgumentNullException.ThrowIfNull(baseLayer);
        if (rank <= 0) throw new ArgumentOutOfRangeException(nameof(rank), rank, "lora: rank must be positive");
        Rank = rank;
        Scale = scale;
        baseLayer.Freeze();
        RegisterModule("base_layer", baseLayer);
        RegisterModule("lora_A", new Linear(baseLayer.InFeatures, rank, bias: false, generator));
        var b = RegisterModule("lora_B", new Linear(rank, baseLayer.OutFeatures, bias: false, generator));
        using (GradMode.NoGrad())
        using (var zeros = Tensor.Zeros(baseLayer.OutFeatures, rank)) b.Weight.CopyFrom(zeros);
        RegisterModule("lora_dropout", new Dropout(dropout, generator));
        if (useDora)
        {
            using var scope = TensorScope.Begin();
            using var noGrad = GradMode.NoGrad();
            Magnitude = RegisterParameter("lora_magnitude_vector", new Parameter(RowNorms(baseLayer.Weight.Value).Keep()));
        }
    }

    public int Rank { get; }

    public float Scale { get; }

    /// <summary>
    /// Runs the fused kernels (<see cref="Tensor.LoraLinear"/>, version 2) where the device has them; false runs the composed ops
    /// (version 1: dropout, two Linears, a scale and an add). DoRA always runs composed.
    /// </summary>
    public bool Fused { get; set; } = true;

    /// <summary>
    /// Lets self-attention run this layer with its query/key/value siblings as one fused op (<see cref="Tensor.LoraQkv"/>)
    /// when all three are fused LoRA layers; false keeps it a separate layer call.
    /// </summary>
    public bool FusedQkv { get; set; } = true;

    /// <summary>DoRA's magnitude [out], or null for plain LoRA.</summary>
    public Parameter? Magnitude { get; }

    /// <summary>True while B·A is folded into the base weight (the forward then skips the LoRA path).</summary>
    public bool Merged { get; private set; }

    public Linear BaseLayer => Child<Linear>("base_layer");

    public Linear LoraA => Child<Linear>("lora_A");

    public Linear LoraB => Child<Linear>("lora_B");

    protected override Tensor ForwardCore(Tensor input)
    {
        if (Merged && Training && GradMode.IsEnabled && (LoraA.Weight.Trainable || LoraB.Weight.Trainable))
            throw new InvalidOperationException("lora: the adapter is merged into the base weight, so it would get no gradient; call "
                + "Unmerge() before training (or Eval() / GradMode.NoGrad() for inference)");
        if (Merged) return BaseLayer.Forward(input);
        if (Operands(input.Device) is { } p)
            return Tensor.LoraLinear(input, p.Weight, p.Bias, p.LoraA, p.LoraB, p.Scale, p.Dropout, p.Generator);
        var update = LoraB.Forward(LoraA.Forward(Child<Layer>("lora_dropout").Forward(input))) * Scale;
        if (Magnitude is null) return BaseLayer.Forward(input) + update;
        var w = BaseLayer.Weight.Value;
        var direction = input.Matmul(w.T) + update;
        var y = direction * (Magnitude.Value / RowNorms(w + LoraB.Weight.Value.Matmul(LoraA.Weight.Value) * Scale).Detach());
        return BaseLayer.Bias is { } bias ? y + bias.Value : y;
    }

    public LoraProjection? FusedProjection(Device device) => FusedQkv && !Merged ? Operands(device) : null;

    /// <summary>What the fused op takes (dropout 0 outside training), or null when this layer runs composed.</summary>
    private LoraProjection? Operands(Device device)
    {
        if (!Fused || Magnitude is not null || !Tensor.HasFusedLora(device)) return null;
        var dropout = Child<Dropout>("lora_dropout");
        var baseLayer = BaseLayer;
        return new LoraProjection(baseLayer.Weight.Value, baseLayer.Bias?.Value, LoraA.Weight.Value, LoraB.Weight.Value, Scale,
            Training ? dropout.P : 0f, dropout.Generator);
    }

    /// <summary>‖row‖₂ of a [out, in] weight → [out].</summary>
    private static Tensor RowNorms(Tensor w) => (w * w).Sum(1).Sqrt();

    /// <summary>scale · B·A as a [out, in] tensor (outside autograd).</summary>
    public Tensor DeltaWeight()
    {
        using var noGrad = GradMode.NoGrad();
        return LoraB.Weight.Value.Matmul(LoraA.Weight.Value) * Scale;
    }

    /// <summary>W ← W + scale·B·A (DoRA: W ← m/‖W + scale·B·A‖ ⊙ (W + scale·B·A)), so inference costs one GEMM.</summary>
    public void Merge()
    {
        if (Merged) throw new InvalidOperationException("lora: already merged");
        using var scope = TensorScope.Begin();
        using var noGrad = GradMode.NoGrad();
        var w = BaseLayer.Weight;
        if (Magnitude is null) w.AddInPlace(DeltaWeight());
        else
        {
            var combined = w.Value + DeltaWeight();
            var rowScale = (Magnitude.Value / RowNorms(combined)).Unsqueeze(1);
            w.CopyFrom(combined * rowScale);
            _mergedScale = rowScale.Contiguous().Keep();
        }
        Merged = true;
    }

    /// <summary>Restores the base weight (up to float rounding).</summary>
    public void Unmerge()
    {
        if (!Merged) throw new InvalidOperationException("lora: not merged");
        using var scope = TensorScope.Begin();
        using var noGrad = GradMode.NoGrad();
        var w = BaseLayer.Weight;
        if (_mergedScale is null) w.AddInPlace(DeltaWeight(), -1f);
        else
        {
            w.CopyFrom(w.Value / _mergedScale - DeltaWeight());
            _mergedScale.Dispose();
            _mergedScale = null;
        }
        Merged = false;
    }

    public override string ToString() =>
        $"LoraLinear(in={BaseLayer.InFeatures}, out={BaseLayer.OutFeatures}, r={Rank}, scale={Scale}, "
            + $"dora={Magnitude is not null}, merged={Merged})";
}
