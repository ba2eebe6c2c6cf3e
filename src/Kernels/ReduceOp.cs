namespace Finetune.Kernels;

public enum ReduceOp
{
    Sum,
    Max,
}
