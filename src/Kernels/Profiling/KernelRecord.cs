
namespace Finetune.Kernels.Profiling;

/// <summary>One kernel call: what ran, on which shapes, how much work it did and how long it took.</summary>
public sealed record KernelRecord(string Kernel, string Shape, double Flops, double Bytes, double Milliseconds, string Scope);
