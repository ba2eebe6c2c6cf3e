namespace Finetune.Kernels;

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
