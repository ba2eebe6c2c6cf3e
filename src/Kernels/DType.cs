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

public static class DTypeInfo
{
    public static int SizeOf(this DType dtype) => dtype switch
    {
        DType.Float32 => 4,
        DType.Float16 => 2,
        DType.BFloat16 => 2,
        DType.Int32 => 4,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown dtype"),
    };

    public static string Name(this DType dtype) => dtype switch
    {
        DType.Float32 => "float32",
        DType.Float16 => "float16",
        DType.BFloat16 => "bfloat16",
        DType.Int32 => "int32",
        _ => dtype.ToString(),
    };
}
