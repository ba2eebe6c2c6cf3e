namespace Finetune.Kernels;

/// <summary>A contiguous run of elements starting at <see cref="Offset"/>.</summary>
public readonly record struct Dense(DeviceBuffer Buffer, long Offset = 0);
