namespace Finetune.Nn;

/// <summary>A lookup table [count, dim] indexed by int32 ids; init N(0, std) (BERT uses std 0.02).</summary>
public sealed class Embedding : Module
{
    public Embedding(int count, int dim, float std = 1f, Generator? generator = null)
    {
        if (count <= 0 || dim <= 0)
            throw new ArgumentOutOfRangeException(nameof(count), $"embedding: count and dim must be positive, got {count}, {dim}");
        Count = count;
        Dim = dim;
        Weight = RegisterParameter("weight", new Parameter(Tensor.Normal(new[] { count, dim }, 0f, std, generator)));
    }

    public int Count { get; }

    public int Dim { get; }

    public Parameter Weight { get; }

    /// <summary>int32 ids of any shape → [ids..., dim].</summary>
    public Tensor Forward(Tensor ids) => Tensor.Embedding(Weight.Value, ids);
}
