using Finetune.Nn.IO;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Finetune.Peft;

/// <summary>The typed base each method folder implements.</summary>
public abstract class PeftMethod<TConfig> : IPeftMethod where TConfig : PeftConfig
{
    public abstract string PeftType { get; }

    public Type ConfigType => typeof(TConfig);

    public void Inject(PeftConfig config, Injection injection) => Inject((TConfig)config, injection);

    public PeftConfig ParseConfig(JsonFields fields) => Parse(fields);

    protected abstract void Inject(TConfig config, Injection injection);

    /// <summary>Merges every <see cref="IMergeableLayer"/> the adapter added; a method that added none does not merge.</summary>
    public virtual void Merge(Injection injection)
    {
        var layers = injection.Added<IMergeableLayer>().ToList();
        if (layers.Count == 0) throw new InvalidOperationException($"peft: {PeftType} adapters do not merge into the base weights");
        foreach (var l in layers) l.Merge();
    }

    public virtual void Unmerge(Injection injection)
    {
        foreach (var l in injection.Added<IMergeableLayer>()) l.Unmerge();
    }

    public virtual bool IsMerged(Injection injection) => injection.Added<IMergeableLayer>().Any(l => l.Merged);

    protected virtual TConfig Parse(JsonFields fields) => PeftConfig.FromJson<TConfig>(fields);
}
