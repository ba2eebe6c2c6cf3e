using Finetune.Kernels.Cuda;
using Finetune.Kernels.Cuda.Host;

namespace Finetune.Tests.Cuda;

/// <summary>The row-major GEMM contract through cuBLAS's column-major calls: transposes, leading dims, batch strides, beta.</summary>
public class GemmTests : CudaFixture
{
    public GemmTests(string kind) : base(kind) { }

    [Test]
    public void Gemm_matches_cpu_for_every_transpose_with_padded_leading_dims([Values] bool transA, [Values] bool transB, [Values(0f, 0.5f)] float beta)
    {
        const int m = 7, n = 9, k = 5, batch = 3, pad = 2;
        int lda = (transA ? m : k) + pad, ldb = (transB ? k : n) + pad, ldc = n + pad;
        long sa = (long)(transA ? k : m) * lda, sb = (long)(transB ? n : k) * ldb, sc = (long)m * ldc;
        var a = Random((int)sa * batch, -1f, 1f, 201);
        var b = Random((int)sb * batch, -1f, 1f, 202);
        var c = Random((int)sc * batch, -1f, 1f, 203);
        if (beta == 0f) Array.Fill(c, float.NaN); // beta == 0 must not read C
        float[] Run(IBackend be)
        {
            var da = Upload(be, a);
            var db = Upload(be, b);
            var dc = Upload(be, c);
            be.Gemm(transA, transB, m, n, k, 1.5f, da, lda, sa, db, ldb, sb, beta, dc, ldc, sc, batch);
            var r = Download(be, dc, c.Length);
            Release(da, db, dc);
            return r;
        }
        var cpu = Run(Cpu);
        var cuda = Run(Cuda);
        // Only the m×n block of each C is written; padding keeps its NaN/old values on both.
        for (int i = 0; i < cpu.Length; i++)
        {
            bool written = i % ldc < n;
            if (written) Assert.That(cuda[i], Is.EqualTo(cpu[i]).Within(1e-5f), $"C element {i}");
            else Assert.That(BitConverter.SingleToInt32Bits(cuda[i]), Is.EqualTo(BitConverter.SingleToInt32Bits(c[i])), $"padding {i} untouched");
        }
    }

    [Test]
    public void Gemm_with_batch_stride_zero_broadcasts_one_matrix()
    {
        const int m = 4, n = 3, k = 6, batch = 5;
        var a = Random(m * k * batch, -1f, 1f, 211);
        var w = Random(k * n, -1f, 1f, 212);
        float[] Run(IBackend be)
        {
            var da = Upload(be, a);
            var dw = Upload(be, w);
            var dc = Zeros(be, m * n * batch);
            be.Gemm(false, false, m, n, k, 1f, da, k, m * k, dw, n, 0, 0f, dc, n, m * n, batch);
            var r = Download(be, dc, m * n * batch);
            Release(da, dw, dc);
            return r;
        }
        AssertClose(Run(Cpu), Run(Cuda), 1e-5f, 1e-6f, "broadcast gemm");
    }

    [Test]
    public void Tf32_gemm_is_close_to_fp32_and_on_the_host_equals_products_of_tf32_rounded_inputs()
    {
        var tf32 = Kind == CudaTestDevices.Host
            ? CudaBackend.CreateHost(Device.Cuda(1), 64L << 20, options: new CudaOptions { AllowTf32 = true })
            : CudaBackend.CreateNative(0, new CudaOptions { AllowTf32 = true });
        try
        {
            const int m = 3, n = 2, k = 4;
            var a = Random(m * k, -1f, 1f, 221);
            var b = Random(k * n, -1f, 1f, 222);
            var da = Upload(tf32, a);
            var db = Upload(tf32, b);
            var dc = Zeros(tf32, m * n);
            tf32.Gemm(false, false, m, n, k, 1f, da, k, 0, db, n, 0, 0f, dc, n, 0, 1);
            var got = Download(tf32, dc, m * n);
            Release(da, db, dc);
            for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double exact = 0;
                float rounded = 0;
                for (int p = 0; p < k; p++)
                {
                    exact += (double)a[i * k + p] * b[p * n + j];
                    rounded += HostCudaBlas.RoundToTf32(a[i * k + p]) * HostCudaBlas.RoundToTf32(b[p * n + j]);
                }
                Assert.That(got[i * n + j], Is.EqualTo(exact).Within(4e-3), "TF32 keeps about 3 decimal digits");
                if (OnHost) Assert.That(got[i * n + j], Is.EqualTo(rounded).Within(1e-6f));
            }
        }
        finally
        {
            tf32.Dispose();
        }
    }
}

/// <summary>The host BLAS itself against a direct reading of cuBLAS's column-major definition.</summary>
public class HostBlasTests
{
    [Test]
    public unsafe void Host_blas_follows_column_major_cublas_semantics()
    {
        // A is 2×3 column-major with lda 3 (one padding row, -9), op(A) = A. The second operand is stored as the
        // 2×3 column-major matrix Bt (ldb 2) and used transposed, so op(B) = Btᵀ is 3×2.
        float[] a = { 1, 2, -9, 3, 4, -9, 5, 6, -9 };  // columns (1,2), (3,4), (5,6)
        float[] bt = { 1, 4, 2, 5, 3, 6 };              // columns (1,4), (2,5), (3,6)
        float[] c = { 100, 100, 100, 100 };
        var blas = new HostCudaBlas();
        fixed (float* pa = a, pb = bt, pc = c)
        {
            int status = blas.SgemmStridedBatched(BlasOp.N, BlasOp.T, 2, 2, 3, 1f, (ulong)pa, 3, 0, (ulong)pb, 2, 0, 0.5f, (ulong)pc, 2, 0, 1);
            Assert.That(status, Is.Zero);
        }
        // op(B)(p, j) = Bt[j + p·2]: B = [[1,4],[2,5],[3,6]]. A = [[1,3,5],[2,4,6]]. A·B = [[22,49],[28,64]]; C = A·B + 0.5·100.
        Assert.That(c, Is.EqualTo(new float[] { 72, 78, 99, 114 }));
    }

    [Test]
    public void Host_blas_rejects_leading_dims_below_the_matrix_height_like_cublas()
    {
        var blas = new HostCudaBlas();
        Assert.That(blas.SgemmStridedBatched(BlasOp.N, BlasOp.N, 4, 2, 3, 1f, 0, 3, 0, 0, 3, 0, 0f, 0, 4, 0, 1), Is.EqualTo(7), "lda < m");
        Assert.That(blas.GemmEx(BlasOp.N, BlasOp.N, 4, 2, 3, 1f, 0, 4, 0, 3, 0f, 0, 3, false), Is.EqualTo(7), "ldc < m");
    }
}
