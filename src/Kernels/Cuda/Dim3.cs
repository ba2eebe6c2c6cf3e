namespace Finetune.Kernels.Cuda;

/// <summary>Grid or block dimensions of a launch.</summary>
public readonly record struct Dim3(uint X, uint Y = 1, uint Z = 1)
{
    public ulong Volume => (ulong)X * Y * Z;

    public override string ToString() => $"({X}, {Y}, {Z})";
}
