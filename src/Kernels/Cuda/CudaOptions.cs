
namespace Finetune.Kernels.Cuda;

public sealed record CudaOptions
{
    /// <summary>Let cuBLAS use TF32 tensor cores for float32 GEMM (about 10 mantissa bits in the products).</summary>
    public bool AllowTf32 { get; init; }

    /// <summary>
    /// Most threads per block of the one-block-per-row kernels (softmax, layer norm, row reductions): a multiple of 32
    /// up to 256. A program on the host device uses 32: each warp shuffle and barrier is a fiber switch per thread there,
    /// so one-warp rows run many times faster; the tests keep 256 so multi-warp reductions stay covered.
    /// </summary>
    public int MaxRowThreads { get; init; } = 256;
}
