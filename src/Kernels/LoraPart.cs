namespace Finetune.Kernels;

/// <summary>
/// One adapter of several that share an input (LoRA on query, key and value): its A [rank, in], its dropout stream, and
/// U [rows, rank] — u = drop(x)·Aᵀ, written by <see cref="ILoraKernels.LoraDownQkv"/>, or the gradient gu read by
/// <see cref="ILoraKernels.LoraDownBackwardQkv"/>. <see cref="GradA"/> [rank, in] is overwritten in backward when given;
/// <see cref="KeepBits"/> as in <see cref="ILoraKernels.LoraDown"/>.
/// </summary>
public readonly record struct LoraPart(Dense A, int Rank, DropoutStream Dropout, Dense U, Dense? GradA = null, Dense? KeepBits = null);
