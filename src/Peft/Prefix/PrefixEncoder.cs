using Finetune.Nn;

namespace Finetune.Peft.Prefix;

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

    public bool Projection { get; private set; }

    /// <summary>Every layer's keys and values [n, layers·2·hidden] (through the projection when there is one).</summary>
    public Tensor Table()
    {
        var table = Child<Embedding>("embedding").Weight.Value;
        return Projection ? Child<Layer>("transform_2").Forward(Child<Layer>("transform_0").Forward(table).Tanh()) : table;
    }

    /// <summary>Layer <paramref name="layer"/>'s keys and values, each [batch, n, hidden].</summary>
    public (Tensor Keys, Tensor Values) KeysAndValues(int layer, int batch)
    {
        var rows = Table().View(Length, Layers, 2, Hidden);
        Tensor Part(int which) => rows.Narrow(1, layer, 1).Narrow(2, which, 1).Reshape(1, Length, Hidden).Expand(batch, Length, Hidden);
        return (Part(0), Part(1));
    }

    /// <summary>
    /// PEFT's inference mode: the projection is dropped for a plain table [n, layers·2·hidden] (to be loaded), which is
    /// all PEFT's adapter_model.safetensors holds for prefix_projection.
    /// </summary>
    public void DropProjection()
    {
        if (!Projection) return;
        var device = Child<Embedding>("embedding").Weight.Value.Device;
        foreach (var name in new[] { "transform_0", "transform_2", "embedding" }) RemoveChild(name).Dispose();
        RegisterModule("embedding", new Embedding(Length, Layers * 2 * Hidden).To(device));
        Projection = false;
    }
}
