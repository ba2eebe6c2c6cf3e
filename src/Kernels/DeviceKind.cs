namespace Finetune.Kernels;

public enum DeviceKind
{
    Cpu,
    Cuda,
}
