namespace Finetune.Kernels.Cuda;

/// <summary>
/// The cuBLAS calls the backend uses, column-major as cuBLAS defines them. Returns cublasStatus_t codes.
/// <c>allowTf32</c> selects CUBLAS_COMPUTE_32F_FAST_TF32 instead of CUBLAS_COMPUTE_32F in the Ex calls.
/// </summary>
public interface ICudaBlas : IDisposable
{
    int SetStream(nint stream);

    int SgemmStridedBatched(BlasOp transA, BlasOp transB, int m, int n, int k, float alpha,
        ulong a, int lda, long strideA, ulong b, int ldb, long strideB, float beta, ulong c, int ldc, long strideC, int batch);

    int GemmEx(BlasOp transA, BlasOp transB, int m, int n, int k, float alpha,
        ulong a, int lda, ulong b, int ldb, float beta, ulong c, int ldc, bool allowTf32);

    int GemmStridedBatchedEx(BlasOp transA, BlasOp transB, int m, int n, int k, float alpha,
        ulong a, int lda, long strideA, ulong b, int ldb, long strideB, float beta, ulong c, int ldc, long strideC, int batch,
        bool allowTf32);
}
