using Finetune.Nn;

namespace Finetune.Peft.Prefix;

/// <summary>
/// Prefix tuning (Li &amp; Liang, 2021) as P-tuning v2 (Liu et al., 2022) applies it to encoders: n learned key and value
/// rows prepended in every self-attention. With <see cref="Projection"/> the rows come from a small MLP over n learned
/// embeddings (the reparameterisation), as PEFT's prefix_projection.
/// </summary>
public sealed record PrefixTuningConfig : PeftConfig
{
    public override string PeftType => "PREFIX_TUNING";

    public int NumVirtualTokens { get; init; } = 10;

    public bool Projection { get; init; }

    /// <summary>Width of the reparameterisation MLP (PEFT's encoder_hidden_size).</summary>
    public int ProjectionHidden { get; init; } = 128;

    /// <summary>Std of the normal init of the prefix table (or of the MLP's input embeddings).</summary>
    public float InitStd { get; init; } = 0.5f;

    public override void Validate()
    {
        if (NumVirtualTokens <= 0) throw new ArgumentOutOfRangeException(nameof(NumVirtualTokens), NumVirtualTokens, "prefix tuning: field 'num_virtual_tokens' must be positive");
        if (ProjectionHidden <= 0) throw new ArgumentOutOfRangeException(nameof(ProjectionHidden), ProjectionHidden, "prefix tuning: field 'projection_hidden' must be positive");
        if (!(InitStd > 0)) throw new ArgumentOutOfRangeException(nameof(InitStd), InitStd, "prefix tuning: field 'init_std' must be positive");
    }
}

/// <summary>
/// All layers' prefixes (PEFT's prefix encoder): without projection one table <c>embedding.weight</c> [n, layers·2·hidden];
/// with it <c>embedding.weight</c> [n, hidden] → <c>transform.0</c> → tanh → <c>transform.2</c> → [n, layers·2·hidden].
/// </summary>
public sealed class PrefixEncoder : Module
{
    public PrefixEncoder(PrefixTuningConfig config, int layers, int hidden, Generator generator)
    {
        Length = config.NumVirtualTokens;
        Layers = layers;
        Hidden = hidden;
        Projection = config.Projection;
        int width = Projection ? hidden : layers * 2 * hidden;
        RegisterModule("embedding", new Embedding(Length, width, config.InitStd, generator));
        if (Projection)
        {
            RegisterModule("transform_0", new Linear(hidden, config.ProjectionHidden, bias: true, generator));
            RegisterModule("transform_2", new Linear(config.ProjectionHidden, layers * 2 * hidden, bias: true, generator));
        }
    }

    public int Length { get; }

    public int Layers { get; }

    public int Hidden { get; }

    public bool Projection { get; }

    /// <summary>Layer <paramref name="layer"/>'s keys and values, each [batch, n, hidden].</summary>
    public (Tensor Keys, Tensor Values) KeysAndValues(int layer, int batch)
    {
        var table = Child<Embedding>("embedding").Weight.Value;
        if (Projection) table = Child<Layer>("transform_2").Forward(Child<Layer>("transform_0").Forward(table).Tanh());
        var rows = table.View(Length, Layers, 2, Hidden);
        Tensor Part(int which) => rows.Narrow(1, layer, 1).Narrow(2, which, 1).Reshape(1, Length, Hidden).Expand(batch, Length, Hidden);
        return (Part(0), Part(1));
    }
}

/// <summary>One attention's view of the shared <see cref="PrefixEncoder"/> (holds no parameters itself).</summary>
public sealed class LayerPrefix(PrefixEncoder encoder, int layer) : Module, IKeyValuePrefix
{
    public int Length => encoder.Length;

    public int Layer { get; } = layer;

    public (Tensor Keys, Tensor Values) KeysAndValues(int batch) => encoder.KeysAndValues(Layer, batch);
}

public sealed class PrefixTuningMethod : PeftMethod<PrefixTuningConfig>
{
    public override string PeftType => "PREFIX_TUNING";

    public const string EncoderName = "prefix_encoder";

    protected override void Inject(PrefixTuningConfig config, Injection injection)
    {
        var attentions = injection.Root.NamedModules().Where(m => m.Value is BertSelfAttention).ToList();
        if (attentions.Count == 0) throw new ArgumentException($"prefix tuning: {injection.Root.GetType().Name} has no self-attention to prefix");
        var first = (BertSelfAttention)attentions[0].Value;
        var encoder = new PrefixEncoder(config, attentions.Count, first.NumHeads * first.HeadDim, injection.Generator);
        injection.Attach("", EncoderName, encoder);
        for (int i = 0; i < attentions.Count; i++) injection.Attach(attentions[i].Key, Hooks.Prefix, new LayerPrefix(encoder, i));
    }
}
