namespace Finetune.Kernels.Cpu;

/// <summary>
/// Row-major SGEMM: C[i] = alpha·op(A[i])·op(B[i]) + beta·C[i] for i &lt; batch, op(A) m×k, op(B) k×n.
/// A batch stride of 0 broadcasts one matrix. Results repeat bit for bit for the same inputs and sizes.
/// </summary>
public static unsafe class GemmPacked
{
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, long strideA, float* b, int ldb, long strideB,
        float beta, float* c, int ldc, long strideC, int batch)
    {
        // Simple correct version; the packed, register-blocked kernel replaces this body.
        nint pa = (nint)a, pb = (nint)b, pc = (nint)c;
        CpuParallel.For((long)batch * m, Math.Max(1, (1 << 16) / Math.Max(1, (long)n * k)), (s, e) =>
        {
            for (long t = s; t < e; t++)
            {
                long bi = t / m;
                int i = (int)(t % m);
                float* A = (float*)pa + bi * strideA, B = (float*)pb + bi * strideB, C = (float*)pc + bi * strideC;
                for (int j = 0; j < n; j++)
                {
                    float acc = 0f;
                    for (int p = 0; p < k; p++)
                    {
                        float av = transA ? A[(long)p * lda + i] : A[(long)i * lda + p];
                        float bv = transB ? B[(long)j * ldb + p] : B[(long)p * ldb + j];
                        acc += av * bv;
                    }
                    float* cij = C + (long)i * ldc + j;
                    *cij = beta == 0f ? alpha * acc : alpha * acc + beta * *cij;
                }
            }
        });
    }
}
