namespace Finetune.Kernels;

/// <summary>A strided view of a buffer.</summary>
public readonly record struct Strided(DeviceBuffer Buffer, Layout Layout);
