namespace Finetune.Kernels.Cuda;

public enum BlasOp
{
    N = 0,
    T = 1,
}
