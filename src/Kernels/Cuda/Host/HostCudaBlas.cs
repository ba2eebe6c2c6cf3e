namespace Finetune.Kernels.Cuda.Host;

/// <summary>
/// cuBLAS's SGEMM family on the host device, with cuBLAS's exact column-major semantics: op(A) is m×k,
/// element (i, p) of A is A[i + p·lda] (or A[p + i·lda] transposed), batches are strideA/B/C apart (0 broadcasts),
/// C is not read when beta is 0, and arguments are validated as cuBLAS does (CUBLAS_STATUS_INVALID_VALUE).
/// FP32 runs on the CPU backend's packed SGEMM; TF32 compute rounds A and B to TF32 (10 explicit mantissa bits) before
/// multiplying, as tensor cores do, in a plain loop.
/// </summary>
public sealed unsafe class HostCudaBlas : ICudaBlas
{
    private const int InvalidValue = 7;

    public int SetStream(nint stream) => 0;

    public int SgemmStridedBatched(BlasOp transA, BlasOp transB, int m, int n, int k, float alpha,
        ulong a, int lda, long strideA, ulong b, int ldb, long strideB, float beta, ulong c, int ldc, long strideC, int batch) =>
        Gemm(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch, false);

    public int GemmEx(BlasOp transA, BlasOp transB, int m, int n, int k, float alpha,
        ulong a, int lda, ulong b, int ldb, float beta, ulong c, int ldc, bool allowTf32) =>
        Gemm(transA, transB, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1, allowTf32);

    public int GemmStridedBatchedEx(BlasOp transA, BlasOp transB, int m, int n, int k, float alpha,
        ulong a, int lda, long strideA, ulong b, int ldb, long strideB, float beta, ulong c, int ldc, long strideC, int batch,
        bool allowTf32) =>
        Gemm(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch, allowTf32);

    private static int Gemm(BlasOp transA, BlasOp transB, int m, int n, int k, float alpha,
        ulong a, int lda, long strideA, ulong b, int ldb, long strideB, float beta, ulong c, int ldc, long strideC, int batch, bool tf32)
    {
        if (m < 0 || n < 0 || k < 0 || batch < 0) return InvalidValue;
        if (lda < Math.Max(1, transA == BlasOp.N ? m : k)) return InvalidValue;
        if (ldb < Math.Max(1, transB == BlasOp.N ? k : n)) return InvalidValue;
        if (ldc < Math.Max(1, m)) return InvalidValue;
        if (!tf32)
        {
            // Column-major C = op(A)·op(B) is row-major Cᵀ = op(B)ᵀ·op(A)ᵀ: the CPU backend's packed SGEMM with the operands
            // swapped (a column-major N operand read row-major is its transpose). Multi-threaded and vectorised, so models
            // of real size run on the host device; the TF32 path below stays a per-element reference.
            Cpu.GemmPacked.Sgemm(transB == BlasOp.T, transA == BlasOp.T, n, m, k, alpha,
                (float*)b, ldb, strideB, (float*)a, lda, strideA, beta, (float*)c, ldc, strideC, batch);
            return 0;
        }
        for (int bi = 0; bi < batch; bi++)
        {
            float* A = (float*)a + bi * strideA, B = (float*)b + bi * strideB, C = (float*)c + bi * strideC;
            for (int j = 0; j < n; j++)
            {
                for (int i = 0; i < m; i++)
                {
                    float acc = 0f;
                    for (int p = 0; p < k; p++)
                    {
                        float av = transA == BlasOp.N ? A[i + (long)p * lda] : A[p + (long)i * lda];
                        float bv = transB == BlasOp.N ? B[p + (long)j * ldb] : B[j + (long)p * ldb];
                        acc += RoundToTf32(av) * RoundToTf32(bv);
                    }
                    float* cij = C + i + (long)j * ldc;
                    *cij = beta == 0f ? alpha * acc : alpha * acc + beta * *cij;
                }
            }
        }
        return 0;
    }

    /// <summary>Rounds to the nearest float with 10 explicit mantissa bits (ties to even); NaN and infinity pass.</summary>
    internal static float RoundToTf32(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        if ((bits & 0x7F800000u) == 0x7F800000u) return x;
        uint lsb = (bits >> 13) & 1u;
        bits = (bits + 0xFFFu + lsb) & ~0x1FFFu;
        return BitConverter.UInt32BitsToSingle(bits);
    }

    public void Dispose() { }
}
