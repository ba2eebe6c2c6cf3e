using Finetune.Kernels;

namespace Finetune.Nn.Optim;

/// <summary>A parameter the optimizer updates, with its dotted name (for weight-decay rules and checkpoints).</summary>
public sealed record NamedParameter(string Name, Tensor Tensor);
