using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Finetune.Kernels.Cpu;

/// <summary>
/// What the packed GEMM does to a finished tile of C while it is still in L1 (at the last k slice): for element
/// (i, j) with z = C[i, j] + bias[j], optionally keep z in <c>pre</c>, then C[i, j] = residual[i, j] + drop(act(z)).
/// Every step is elementwise on final values, so where tile boundaries fall (threads, edge tiles, the unpacked path)
/// does not change a bit. Dropout element (i, j) is stream element i·n + j, as the composed dropout over [m, n] draws.
/// </summary>
internal sealed unsafe class GemmEpilogue(int n, float* bias, EpilogueActivation activation, DropoutStream dropout, float* residual,
    float* preActivation)
{
    // Keep-scales are drawn a slice of a row at a time into a stack buffer the loop below consumes.
    private const int Slice = 64;

    /// <summary>Applies the epilogue to rows [row, row+rows) × columns [col, col+cols) of C, <paramref name="c"/> at (row, col).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Apply(float* c, long ldc, int row, int col, int rows, int cols)
    {
        float* keep = stackalloc float[Slice];
        bool gelu = activation == EpilogueActivation.GeluErf, drop = dropout.Active;
        for (int r = 0; r < rows; r++)
        {
            long at = (long)(row + r) * n + col;
            float* cr = c + r * ldc;
            for (int j0 = 0; j0 < cols; j0 += Slice)
            {
                int w = Math.Min(Slice, cols - j0);
                if (drop) PhiloxDropout.KeepScales(dropout, at + j0, w, keep);
                float* cs = cr + j0;
                float* b = bias == null ? null : bias + col + j0;
                float* pre = preActivation == null ? null : preActivation + at + j0;
                float* res = residual == null ? null : residual + at + j0;
                int j = 0;
                for (; j + 8 <= w; j += 8)
                {
                    var z = Vector256.Load(cs + j);
                    if (b != null) z += Vector256.Load(b + j);
                    if (pre != null) z.Store(pre + j);
                    if (gelu) z = GeluErfFn.Apply(z, default);
                    if (drop) z *= Vector256.Load(keep + j);
                    if (res != null) z = Vector256.Load(res + j) + z;
                    z.Store(cs + j);
                }
                for (; j < w; j++)
                {
                    float z = cs[j];
                    if (b != null) z += b[j];
                    if (pre != null) pre[j] = z;
                    if (gelu) z = GeluErfFn.Apply(z, 0f);
                    if (drop) z *= keep[j];
                    if (res != null) z = res[j] + z;
                    cs[j] = z;
                }
            }
        }
    }
}
