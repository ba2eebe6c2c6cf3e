using System.Runtime.InteropServices;
using Finetune.Kernels.Cpu;

namespace Finetune.Kernels.Cuda;

/// <summary>Shape and strides of up to four operands after merging, passed to kernels by value (kernels.cu's StridedArgs).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct StridedArgs
{
    public const int MaxRank = 8;

    public int Rank;
    public int Pad;
    public fixed long Shape[MaxRank];
    public fixed long Stride[4 * MaxRank];

    public static StridedArgs From(StridedIndex ix, string op)
    {
        if (ix.Shape.Length > MaxRank)
            throw new NotSupportedException($"{op}: the CUDA backend walks at most {MaxRank} non-mergeable dims, this view has "
                + $"{ix.Shape.Length}; make it contiguous first");
        var s = new StridedArgs { Rank = ix.Shape.Length };
        for (int d = 0; d < ix.Shape.Length; d++)
        {
            s.Shape[d] = ix.Shape[d];
            for (int o = 0; o < ix.Strides.Length; o++) s.Stride[o * MaxRank + d] = ix.Strides[o][d];
        }
        return s;
    }
}
