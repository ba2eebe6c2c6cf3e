namespace Finetune.Kernels;

/// <summary>Element type of a tensor. Float32 is computed today; the others are designed in (storage sizes,
/// names, checks) so that half-precision kernels can be added without changing the tensor layer.</summary>
public enum DType
{
    Float32,
    Float16,
    BFloat16,
    Int32,
}
