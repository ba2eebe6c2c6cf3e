using Finetune.Nn;

namespace Finetune.Peft;

/// <summary>
/// Every change one adapter made to a model, so it can be switched off and on again: children replaced (LoRA, IA3,
/// copies of modules to save), hooks attached (prompts, prefixes, bottleneck adapters), and base parameters trained in
/// place (BitFit, LayerNorm tuning, full fine-tuning), which cannot be switched off.
/// </summary>
public sealed class Injection
{
    private readonly List<(string ParentPath, string Name, Module? Original, Module Added)> _edits = new();
    private readonly List<Parameter> _inPlace = new();
    private readonly List<string> _paths = new();
    private readonly HashSet<Parameter> _base;

    internal Injection(Module root, PeftConfig config)
    {
        Root = root;
        Config = config;
        Generator = new Generator(config.Seed);
        _base = new HashSet<Parameter>(root.Parameters(), ReferenceEqualityComparer.Instance);
    }

    /// <summary>The model being adapted.</summary>
    public Module Root { get; }

    public PeftConfig Config { get; }

    /// <summary>The stream every init of this adapter draws from (seeded by the config).</summary>
    public Generator Generator { get; }

    /// <summary>Dotted paths of the modules the adapter replaced or hooked into, in order.</summary>
    public IReadOnlyList<string> Paths => _paths;

    /// <summary>False when the adapter trains base parameters in place.</summary>
    public bool Switchable => _inPlace.Count == 0;

    internal bool Active { get; private set; } = true;

    /// <summary>
    /// Linear children of the model whose dotted path the predicate accepts, outside any layer that already wraps one.
    /// Collect first: replacing children while walking would change the walk.
    /// </summary>
    public List<(string Path, Linear Linear)> FindLinears(Func<string, bool> isTarget)
    {
        var targets = new List<(string, Linear)>();
        foreach (var (path, parent) in Root.NamedModules())
        {
            if (parent is IWrappingLayer) continue;
            foreach (var (name, child) in parent.NamedChildren())
            {
                string childPath = path.Length == 0 ? name : path + "." + name;
                if (child is Linear linear && isTarget(childPath)) targets.Add((childPath, linear));
            }
        }
        return targets;
    }

    /// <summary>The layers of type <typeparamref name="T"/> this adapter added to the model.</summary>
    public IEnumerable<T> Added<T>() => _edits.Select(e => e.Added).OfType<T>();

    /// <summary>Swaps the child at dotted <paramref name="path"/> for <paramref name="replacement"/>.</summary>
    public void Replace(string path, Module replacement)
    {
        var (parentPath, name) = Split(path);
        var original = Root.GetSubmodule(parentPath).ReplaceChild(name, replacement);
        _edits.Add((parentPath, name, original, replacement));
        _paths.Add(path);
    }

    /// <summary>Adds <paramref name="hook"/> as the child <paramref name="name"/> of the module at <paramref name="parentPath"/>.</summary>
    public void Attach(string parentPath, string name, Module hook)
    {
        Root.GetSubmodule(parentPath).AddChild(name, hook);
        _edits.Add((parentPath, name, null, hook));
        _paths.Add(parentPath.Length == 0 ? name : parentPath + "." + name);
    }

    /// <summary>Unfreezes a base parameter: the adapter trains it in place.</summary>
    public void TrainInPlace(Parameter parameter)
    {
        parameter.Unfreeze();
        _inPlace.Add(parameter);
    }

    /// <summary>Parameters this adapter owns: those of what it added, and the base parameters it trains.</summary>
    internal bool Owns(Parameter p) => !_base.Contains(p) || _inPlace.Contains(p);

    internal void Deactivate()
    {
        if (!Active) return;
        if (!Switchable)
            throw new InvalidOperationException($"peft: a {Config.PeftType} adapter trains the base model's own parameters, so it "
                + "cannot be switched off");
        for (int i = _edits.Count - 1; i >= 0; i--)
        {
            var (parentPath, name, original, _) = _edits[i];
            var parent = Root.GetSubmodule(parentPath);
            if (original is null) parent.RemoveChild(name);
            else parent.ReplaceChild(name, original);
        }
        Active = false;
    }

    /// <summary>Undoes a failed injection: edits reverted, base parameters frozen again.</summary>
    internal void Rollback()
    {
        foreach (var p in _inPlace) p.Freeze();
        _inPlace.Clear();
        Deactivate();
    }

    internal void Activate()
    {
        if (Active) return;
        foreach (var (parentPath, name, original, added) in _edits)
        {
            var parent = Root.GetSubmodule(parentPath);
            if (original is null) parent.AddChild(name, added);
            else parent.ReplaceChild(name, added);
        }
        Active = true;
    }

    /// <summary>The parameters of the modules this adapter added (none of them belong to the base model).</summary>
    internal IEnumerable<Parameter> AddedParameters() =>
        _edits.SelectMany(e => e.Added.Parameters()).Where(p => !_base.Contains(p)).Distinct<Parameter>(ReferenceEqualityComparer.Instance);

    /// <summary>Every parameter this adapter's edits hold, added or replaced.</summary>
    internal IEnumerable<Parameter> HeldParameters() =>
        _edits.SelectMany(e => e.Original is null ? e.Added.Parameters() : e.Added.Parameters().Concat(e.Original.Parameters()));

    private static (string Parent, string Name) Split(string path)
    {
        int dot = path.LastIndexOf('.');
        return dot < 0 ? ("", path) : (path[..dot], path[(dot + 1)..]);
    }
}
