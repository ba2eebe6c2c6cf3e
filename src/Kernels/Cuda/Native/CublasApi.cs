using System.Runtime.InteropServices;

namespace Finetune.Kernels.Cuda.Native;

/// <summary>The cuBLAS entry points the engine uses (cublas_api.h, v2 API).</summary>
internal static unsafe partial class CublasApi
{
    static CublasApi() => CudaLibraries.InstallResolver();

    public const int Real32F = 0;             // CUDA_R_32F
    public const int Compute32F = 68;         // CUBLAS_COMPUTE_32F
    public const int Compute32FFastTf32 = 77; // CUBLAS_COMPUTE_32F_FAST_TF32
    public const int GemmDefault = -1;        // CUBLAS_GEMM_DEFAULT

    [LibraryImport(CudaLibraries.Blas, EntryPoint = "cublasCreate_v2")]
    public static partial int cublasCreate(out nint handle);

    [LibraryImport(CudaLibraries.Blas, EntryPoint = "cublasDestroy_v2")]
    public static partial int cublasDestroy(nint handle);

    [LibraryImport(CudaLibraries.Blas, EntryPoint = "cublasSetStream_v2")]
    public static partial int cublasSetStream(nint handle, nint stream);

    [LibraryImport(CudaLibraries.Blas)]
    public static partial int cublasSgemmStridedBatched(nint handle, int transA, int transB, int m, int n, int k, float* alpha,
        ulong a, int lda, long strideA, ulong b, int ldb, long strideB, float* beta, ulong c, int ldc, long strideC, int batch);

    [LibraryImport(CudaLibraries.Blas)]
    public static partial int cublasGemmEx(nint handle, int transA, int transB, int m, int n, int k, void* alpha,
        ulong a, int aType, int lda, ulong b, int bType, int ldb, void* beta, ulong c, int cType, int ldc, int computeType, int algo);

    [LibraryImport(CudaLibraries.Blas)]
    public static partial int cublasGemmStridedBatchedEx(nint handle, int transA, int transB, int m, int n, int k, void* alpha,
        ulong a, int aType, int lda, long strideA, ulong b, int bType, int ldb, long strideB, void* beta,
        ulong c, int cType, int ldc, long strideC, int batch, int computeType, int algo);
}
