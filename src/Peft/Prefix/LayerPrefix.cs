using Finetune.Nn;

namespace Finetune.Peft.Prefix;

/// <summary>One attention's view of the shared <see cref="PrefixEncoder"/> (holds no parameters itself).</summary>
public sealed class LayerPrefix(PrefixEncoder encoder, int layer) : Module, IKeyValuePrefix
{
    public int Length => encoder.Length;

    public int Layer { get; } = layer;

    public (Tensor Keys, Tensor Values) KeysAndValues(int batch) => encoder.KeysAndValues(Layer, batch);
}
