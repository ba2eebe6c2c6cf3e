namespace Finetune.Kernels.Cpu;

/// <summary>
/// Walks N strided operands of one shape row by row. Dimensions that are contiguous in every operand are
/// merged first, so a dense tensor becomes a single row and broadcast bias adds become two dims.
/// </summary>
internal sealed class StridedIndex
{
    public readonly int[] Shape;      // collapsed shape, rank >= 1
    public readonly long[][] Strides; // per operand, collapsed
    public readonly long Rows;        // product of all dims but the last
    public readonly int Inner;        // last dim

    public StridedIndex(int[] shape, params long[][] strides)
    {
        var dims = new List<int>();
        var st = strides.Select(_ => new List<long>()).ToArray();
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] == 1) continue;
            if (dims.Count > 0 && CanMerge(dims[^1], shape[d], d, strides, st))
            {
                dims[^1] *= shape[d];
                for (int o = 0; o < strides.Length; o++) st[o][^1] = strides[o][d];
                continue;
            }
            dims.Add(shape[d]);
            for (int o = 0; o < strides.Length; o++) st[o].Add(strides[o][d]);
        }
        if (dims.Count == 0)
        {
            dims.Add(1);
            foreach (var s in st) s.Add(1);
        }
        Shape = dims.ToArray();
        Strides = st.Select(s => s.ToArray()).ToArray();
        Inner = Shape[^1];
        long rows = 1;
        for (int d = 0; d < Shape.Length - 1; d++) rows *= Shape[d];
        Rows = rows;
    }

    private static bool CanMerge(int prevSize, int size, int d, long[][] strides, List<long>[] merged)
    {
        for (int o = 0; o < strides.Length; o++)
            if (merged[o][^1] != strides[o][d] * size) return false;
        return true;
    }

    public long InnerStride(int operand) => Strides[operand][^1];

    /// <summary>Element offset of operand <paramref name="operand"/> at the start of row <paramref name="row"/>.</summary>
    public long RowOffset(int operand, long row)
    {
        long offset = 0;
        var s = Strides[operand];
        for (int d = Shape.Length - 2; d >= 0 && row > 0; d--)
        {
            long i = row % Shape[d];
            row /= Shape[d];
            offset += i * s[d];
        }
        return offset;
    }
}
