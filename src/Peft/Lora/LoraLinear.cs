using Finetune.Nn;

namespace Finetune.Peft.Lora;

/// <summary>
/// A frozen Linear plus a low-rank update: y = base(x) + scale · B(A(dropout(x))), A [r, in] Kaiming-uniform
/// (U(±1/√in), as torch's Linear) from a seeded generator, B [out, r] zero so training starts at the base model.
/// Children follow PEFT's names: <c>base_layer</c>, <c>lora_A</c>, <c>lora_B</c>, <c>lora_dropout</c>.
/// </summary>
public sealed class LoraLinear : Layer
{
    public LoraLinear(Linear baseLayer, int rank, float scale, float dropout = 0f, Generator? generator = null)
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
    }

    public int Rank { get; }

    public float Scale { get; }

    /// <summary>True while B·A is folded into the base weight (the forward then skips the LoRA path).</summary>
    public bool Merged { get; private set; }

    public Linear BaseLayer => Child<Linear>("base_layer");

    public Linear LoraA => Child<Linear>("lora_A");

    public Linear LoraB => Child<Linear>("lora_B");

    public override Tensor Forward(Tensor input)
    {
        if (Merged && Training && GradMode.IsEnabled && (LoraA.Weight.Trainable || LoraB.Weight.Trainable))
            throw new InvalidOperationException("lora: the adapter is merged into the base weight, so it would get no gradient; call Unmerge() before training (or Eval() / GradMode.NoGrad() for inference)");
        var y = BaseLayer.Forward(input);
        if (Merged) return y;
        var update = LoraB.Forward(LoraA.Forward(Child<Layer>("lora_dropout").Forward(input)));
        return y + update * Scale;
    }

    /// <summary>scale · B·A as a [out, in] tensor (outside autograd).</summary>
    public Tensor DeltaWeight()
    {
        using var noGrad = GradMode.NoGrad();
        return LoraB.Weight.Value.Matmul(LoraA.Weight.Value) * Scale;
    }

    /// <summary>W ← W + scale·B·A, so inference costs one GEMM.</summary>
    public void Merge()
    {
        if (Merged) throw new InvalidOperationException("lora: already merged");
        using var scope = TensorScope.Begin();
        BaseLayer.Weight.AddInPlace(DeltaWeight());
        Merged = true;
    }

    /// <summary>W ← W − scale·B·A, restoring the base weight (up to float rounding).</summary>
    public void Unmerge()
    {
        if (!Merged) throw new InvalidOperationException("lora: not merged");
        using var scope = TensorScope.Begin();
        BaseLayer.Weight.AddInPlace(DeltaWeight(), -1f);
        Merged = false;
    }

    public override string ToString() => $"LoraLinear(in={BaseLayer.InFeatures}, out={BaseLayer.OutFeatures}, r={Rank}, scale={Scale}, merged={Merged})";
}
