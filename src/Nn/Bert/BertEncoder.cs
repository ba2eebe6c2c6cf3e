using Finetune.Kernels;

namespace Finetune.Nn;

/// <summary>HF <c>encoder</c>: a stack of layers named <c>layer.0</c>, <c>layer.1</c>, ….</summary>
public sealed class BertEncoder : Module
{
    private readonly ModuleList _layers;

    public BertEncoder(BertConfig config, Generator? generator = null)
    {
        _layers = RegisterModule("layer", new ModuleList());
        for (int i = 0; i < config.NumLayers; i++) _layers.Add(new BertLayer(config, generator));
    }

    public int Count => _layers.Count;

    public BertLayer this[int index] => (BertLayer)_layers[index];

    /// <summary>GEMM epilogues in every layer (the default) or the composed ops (<c>--unfused</c>): one switch for the model.</summary>
    public bool FusedEpilogues
    {
        get => Enumerable.Range(0, Count).All(i => this[i].FusedEpilogues);
        set
        {
            for (int i = 0; i < Count; i++) this[i].FusedEpilogues = value;
        }
    }

    public Tensor Forward(Tensor x, Tensor? additiveMask)
    {
        using var profileScope = ProfileScope();
        for (int i = 0; i < _layers.Count; i++)
        {
            if (GradMode.IsEnabled)
            {
                x = this[i].Forward(x, additiveMask);
                continue;
            }
            // Without a graph nothing needs a layer's intermediates afterwards: free them layer by layer, so
            // inference holds one layer's activations instead of all of them.
            using var scope = TensorScope.Begin();
            x = scope.Return(this[i].Forward(x, additiveMask));
        }
        return x;
    }
}
