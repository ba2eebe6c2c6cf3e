
namespace Finetune.Kernels.Cuda;

public sealed record CudaOptions
{
    /// <summary>Let cuBLAS use TF32 tensor cores for float32 GEMM (about 10 mantissa bits in the products).</summary>
    public bool AllowTf32 { get; init; }
}
