using Finetune.Nn;

namespace Finetune.Peft.Prompts;

/// <summary>The learned tokens, <c>weight</c> [depth × n, hidden]; a hook under the name <see cref="Hooks.Prompt"/>.</summary>
public sealed class PromptEmbedding : Module, IPromptTokens
{
    public PromptEmbedding(int length, int depth, Tensor initial)
    {
        if (initial.Rank != 2 || initial.Size(0) != length * depth)
            throw new ArgumentException($"prompt: initial tokens {initial.Describe()} must be [{length * depth}, hidden]");
        Length = length;
        Depth = depth;
        Weight = RegisterParameter("weight", new Parameter(initial));
    }

    public int Length { get; }

    public int Depth { get; }

    public Parameter Weight { get; }

    public Tensor Tokens(int layer, int batch)
    {
        if ((uint)layer >= (uint)Depth)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"prompt: layer must be below the depth {Depth}");
        var rows = Weight.Value.Narrow(0, layer * Length, Length);
        return rows.Unsqueeze(0).Expand(batch, Length, rows.Size(1));
    }
}
