namespace Finetune.Nn;

/// <summary>Inverted dropout, active only in training mode; masks come from a seeded generator.</summary>
public sealed class Dropout : Layer
{
    public Dropout(float p, Generator? generator = null)
    {
        if (!(p >= 0f && p < 1f)) throw new ArgumentOutOfRangeException(nameof(p), p, "dropout: p must be in [0, 1)");
        P = p;
        Generator = generator;
    }

    public float P { get; }

    /// <summary>The mask stream; null uses <see cref="Finetune.Generator.Default"/>.</summary>
    public Generator? Generator { get; set; }

    protected override Tensor ForwardCore(Tensor input) => input.Dropout(P, Training, Generator);
}
