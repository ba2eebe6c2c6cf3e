namespace Finetune.Kernels.Cpu;

/// <summary>
/// What the packed GEMM does to a finished block of C while it is still in L2 (after its last k slice): for element
/// (i, j) with z = C[i, j] + bias[j], optionally keep z in <c>pre</c>, then C[i, j] = residual[i, j] + drop(act(z)).
/// Every step is elementwise on final values, so where block boundaries fall (threads, edge tiles, the unpacked path)
/// does not change a bit. Dropout element (i, j) is stream element i·n + j, as the composed dropout over [m, n] draws.
/// </summary>
internal sealed unsafe class GemmEpilogue(int n, float* bias, EpilogueActivation activation, DropoutStream dropout, float* residual,
    float* preActivation)
{
    // Keep-scales are drawn a slice of a row at a time into a stack buffer the loop below consumes.
    private const int Slice = 256;

    /// <summary>Applies the epilogue to rows [row, row+rows) × columns [col, col+cols) of C, <paramref name="c"/> at (row, col).</summary>
    /// <remarks>One tight loop per step over a slice of a row that sits in L1: a single loop with every step inside it kept the
    /// erf polynomial from being scheduled well (GELU cost twice its standalone kernel).</remarks>
    public void Apply(float* c, long ldc, int row, int col, int rows, int cols)
    {
        float* keep = stackalloc float[Slice];
        for (int r = 0; r < rows; r++)
        {
            long at = (long)(row + r) * n + col;
            float* cr = c + r * ldc;
            for (int j0 = 0; j0 < cols; j0 += Slice)
            {
                int w = Math.Min(Slice, cols - j0);
                float* cs = cr + j0;
                if (bias != null) ElementwiseLoops.BinaryRow<AddFn>(cs, bias + col + j0, cs, w);
                if (preActivation != null) new ReadOnlySpan<float>(cs, w).CopyTo(new Span<float>(preActivation + at + j0, w));
                if (activation == EpilogueActivation.GeluErf) ElementwiseLoops.UnaryRow<GeluErfFn>(cs, cs, w, 0f);
                if (dropout.Active)
                {
                    PhiloxDropout.KeepScales(dropout, at + j0, w, keep);
                    ElementwiseLoops.BinaryRow<MulFn>(cs, keep, cs, w);
                }
                // residual + z, as the composed add computes it (the sum is the same either way round).
                if (residual != null) ElementwiseLoops.BinaryRow<AddFn>(residual + at + j0, cs, cs, w);
            }
        }
    }
}
