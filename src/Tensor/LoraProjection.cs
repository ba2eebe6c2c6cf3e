namespace Finetune;

/// <summary>
/// One LoRA projection y = x·Wᵀ + b + s·(drop(x)·Aᵀ)·Bᵀ as <see cref="Tensor.LoraLinear"/> takes it: W [out, in], b [out] or
/// null, A [r, in], B [out, r], the scale s, the dropout probability and the generator its Philox stream comes from.
/// </summary>
public sealed record LoraProjection(Tensor Weight, Tensor? Bias, Tensor LoraA, Tensor LoraB, float Scale, float Dropout = 0f,
    Generator? Generator = null);
