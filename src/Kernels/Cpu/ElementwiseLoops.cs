using System.Runtime.Intrinsics;

namespace Finetune.Kernels.Cpu;

/// <summary>The one vectorised loop per arity; every elementwise op and its backward runs through these.</summary>
internal static unsafe class ElementwiseLoops
{
    private const long Grain = 1 << 14;

    public static void Unary<T>(float* x, float* y, long n, float arg) where T : struct, IUnaryFn
    {
        nint px = (nint)x, py = (nint)y;
        CpuParallel.For(n, Grain, (start, end) => UnaryRow<T>((float*)px + start, (float*)py + start, (int)(end - start), arg));
    }

    /// <summary>y = f(x) over one contiguous row on the calling thread (fused kernels run it on data already in cache).</summary>
    public static void UnaryRow<T>(float* x, float* y, int n, float arg) where T : struct, IUnaryFn
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(arg);
            for (; i + 8 <= n; i += 8)
                Vector256.Store(T.Apply(Vector256.Load(x + i), va), y + i);
        }
        for (; i < n; i++) y[i] = T.Apply(x[i], arg);
    }

    /// <summary>c = a op b over contiguous rows of n elements on the calling thread.</summary>
    public static void BinaryRow<T>(float* a, float* b, float* c, int n) where T : struct, IBinaryFn => BinaryRow<T>(a, 1, b, 1, c, 1, n);

    public static void UnaryGrad<T>(float* x, float* y, float* gy, float* gx, long n, float arg) where T : struct, IUnaryFn
    {
        nint px = (nint)x, py = (nint)y, pgy = (nint)gy, pgx = (nint)gx;
        CpuParallel.For(n, Grain, (start, end) =>
        {
            float* xs = (float*)px, ys = (float*)py, gys = (float*)pgy, gxs = (float*)pgx;
            long i = start;
            if (Vector256.IsHardwareAccelerated)
            {
                var va = Vector256.Create(arg);
                for (; i + 8 <= end; i += 8)
                    Vector256.Store(T.Grad(Vector256.Load(xs + i), Vector256.Load(ys + i), Vector256.Load(gys + i), va), gxs + i);
            }
            for (; i < end; i++) gxs[i] = T.Grad(xs[i], ys[i], gys[i], arg);
        });
    }

    /// <summary>c = a op b over strided operands; rows are split across threads, the inner dim is vectorised when unit-stride.</summary>
    public static void Binary<T>(float* a, float* b, float* c, StridedIndex ix) where T : struct, IBinaryFn
    {
        nint pa = (nint)a, pb = (nint)b, pc = (nint)c;
        long sa = ix.InnerStride(0), sb = ix.InnerStride(1), sc = ix.InnerStride(2);
        ForTiles(ix, (r, j0, j1) =>
            BinaryRow<T>((float*)pa + ix.RowOffset(0, r) + j0 * sa, sa, (float*)pb + ix.RowOffset(1, r) + j0 * sb, sb,
                (float*)pc + ix.RowOffset(2, r) + j0 * sc, sc, j1 - j0));
    }

    private static void BinaryRow<T>(float* a, long sa, float* b, long sb, float* c, long sc, int n) where T : struct, IBinaryFn
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated && sc == 1)
        {
            if (sa == 1 && sb == 1)
                for (; i + 8 <= n; i += 8) Vector256.Store(T.Apply(Vector256.Load(a + i), Vector256.Load(b + i)), c + i);
            else if (sa == 1 && sb == 0)
            {
                var vb = Vector256.Create(*b);
                for (; i + 8 <= n; i += 8) Vector256.Store(T.Apply(Vector256.Load(a + i), vb), c + i);
            }
            else if (sa == 0 && sb == 1)
            {
                var va = Vector256.Create(*a);
                for (; i + 8 <= n; i += 8) Vector256.Store(T.Apply(va, Vector256.Load(b + i)), c + i);
            }
        }
        for (; i < n; i++) c[i * sc] = T.Apply(a[i * sa], b[i * sb]);
    }

    /// <summary>
    /// Splits rows × inner into tiles of about <see cref="Grain"/> elements (long rows are cut into pieces), so
    /// a dense tensor that collapsed to one row still spreads over every thread.
    /// </summary>
    private static void ForTiles(StridedIndex ix, Action<long, int, int> tile)
    {
        int inner = ix.Inner;
        int piece = (int)Math.Min(inner, Grain);
        int pieces = (inner + piece - 1) / piece;
        CpuParallel.For(ix.Rows * pieces, CpuParallel.Grain(piece, Grain), (start, end) =>
        {
            for (long t = start; t < end; t++)
            {
                long r = t / pieces;
                int j0 = (int)(t % pieces) * piece;
                tile(r, j0, Math.Min(inner, j0 + piece));
            }
        });
    }

    public static void Where(float* cond, float* a, float* b, float* c, StridedIndex ix)
    {
        nint pm = (nint)cond, pa = (nint)a, pb = (nint)b, pc = (nint)c;
        long sm = ix.InnerStride(0), sa = ix.InnerStride(1), sb = ix.InnerStride(2), sc = ix.InnerStride(3);
        ForTiles(ix, (r, j0, j1) =>
        {
            float* mr = (float*)pm + ix.RowOffset(0, r);
            float* ar = (float*)pa + ix.RowOffset(1, r);
            float* br = (float*)pb + ix.RowOffset(2, r);
            float* cr = (float*)pc + ix.RowOffset(3, r);
            for (long i = j0; i < j1; i++) cr[i * sc] = mr[i * sm] != 0f ? ar[i * sa] : br[i * sb];
        });
    }

    /// <summary>Strided copy for any element type (float32, int32, 16-bit floats by their bits).</summary>
    public static void Copy<TElem>(TElem* src, TElem* dst, StridedIndex ix) where TElem : unmanaged
    {
        nint ps = (nint)src, pd = (nint)dst;
        long ss = ix.InnerStride(0), sd = ix.InnerStride(1);
        ForTiles(ix, (r, j0, j1) =>
        {
            TElem* sr = (TElem*)ps + ix.RowOffset(0, r);
            TElem* dr = (TElem*)pd + ix.RowOffset(1, r);
            if (ss == 1 && sd == 1)
                new ReadOnlySpan<TElem>(sr + j0, j1 - j0).CopyTo(new Span<TElem>(dr + j0, j1 - j0));
            else
                for (long i = j0; i < j1; i++) dr[i * sd] = sr[i * ss];
        });
    }
}
