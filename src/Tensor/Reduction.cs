using Finetune.Kernels;

namespace Finetune;

public enum Reduction
{
    Mean,
    Sum,
    None,
}
