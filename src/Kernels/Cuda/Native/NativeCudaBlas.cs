using static Finetune.Kernels.Cuda.Native.CublasApi;

namespace Finetune.Kernels.Cuda.Native;

/// <summary>cuBLAS on the real device (one handle, bound to the driver's primary context, made current before each call).</summary>
public sealed unsafe class NativeCudaBlas : ICudaBlas
{
    private readonly NativeCudaDriver _driver;
    private nint _handle;

    public NativeCudaBlas(NativeCudaDriver driver)
    {
        _driver = driver;
        driver.EnsureCurrent();
        if (!CudaLibraries.TryLoadFirst(CudaLibraries.BlasCandidates, out _, out string reason))
            throw new CudaUnavailableException($"cuBLAS is missing ({reason}): install the CUDA runtime libraries (libcublas)");
        CudaException.CheckBlas(cublasCreate(out _handle), "cublasCreate_v2");
    }

    public int SetStream(nint stream)
    {
        _driver.EnsureCurrent();
        return cublasSetStream(_handle, stream);
    }

    public int SgemmStridedBatched(BlasOp transA, BlasOp transB, int m, int n, int k, float alpha,
        ulong a, int lda, long strideA, ulong b, int ldb, long strideB, float beta, ulong c, int ldc, long strideC, int batch)
    {
        _driver.EnsureCurrent();
        return cublasSgemmStridedBatched(_handle, (int)transA, (int)transB, m, n, k, &alpha, a, lda, strideA, b, ldb, strideB, &beta, c,
            ldc, strideC, batch);
    }

    public int GemmEx(BlasOp transA, BlasOp transB, int m, int n, int k, float alpha,
        ulong a, int lda, ulong b, int ldb, float beta, ulong c, int ldc, bool allowTf32)
    {
        _driver.EnsureCurrent();
        return cublasGemmEx(_handle, (int)transA, (int)transB, m, n, k, &alpha, a, Real32F, lda, b, Real32F, ldb, &beta, c, Real32F, ldc,
            allowTf32 ? Compute32FFastTf32 : Compute32F, GemmDefault);
    }

    public int GemmStridedBatchedEx(BlasOp transA, BlasOp transB, int m, int n, int k, float alpha,
        ulong a, int lda, long strideA, ulong b, int ldb, long strideB, float beta, ulong c, int ldc, long strideC, int batch,
        bool allowTf32)
    {
        _driver.EnsureCurrent();
        return cublasGemmStridedBatchedEx(_handle, (int)transA, (int)transB, m, n, k, &alpha, a, Real32F, lda, strideA,
            b, Real32F, ldb, strideB,
            &beta, c, Real32F, ldc, strideC, batch, allowTf32 ? Compute32FFastTf32 : Compute32F, GemmDefault);
    }

    public void Dispose()
    {
        if (_handle == 0) return;
        _driver.EnsureCurrent();
        cublasDestroy(_handle); // status ignored: Dispose must not throw
        _handle = 0;
    }
}
