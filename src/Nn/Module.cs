using System.Text.RegularExpressions;
using Finetune.Kernels;

namespace Finetune.Nn;

/// <summary>
/// A node of a model tree: named parameters and named child modules, in registration order, so
/// <see cref="NamedParameters"/> yields dotted paths (<c>encoder.layer.0.attention.self.query.weight</c>) that
/// match Hugging Face names. Children are looked up by name at forward time, so an injection (LoRA) that
/// replaces a child with <see cref="ReplaceChild"/> changes what the forward pass calls.
/// </summary>
public abstract class Module : IDisposable
{
    private readonly List<KeyValuePair<string, Parameter>> _parameters = new();
    private readonly List<KeyValuePair<string, Module>> _children = new();

    /// <summary>True in training mode (dropout active), false after <see cref="Eval"/>.</summary>
    public bool Training { get; private set; } = true;

    protected Parameter RegisterParameter(string name, Parameter parameter)
    {
        CheckName(name);
        ArgumentNullException.ThrowIfNull(parameter);
        if (IndexOf(_parameters, name) >= 0 || IndexOf(_children, name) >= 0)
            throw new ArgumentException($"{GetType().Name}: '{name}' is already registered");
        parameter.Name ??= name;
        _parameters.Add(new(name, parameter));
        return parameter;
    }

    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        CheckName(name);
        ArgumentNullException.ThrowIfNull(module);
        if (IndexOf(_parameters, name) >= 0 || IndexOf(_children, name) >= 0)
            throw new ArgumentException($"{GetType().Name}: '{name}' is already registered");
        module.Train(Training);
        _children.Add(new(name, module));
        return module;
    }

    /// <summary>The child registered as <paramref name="name"/>, typed.</summary>
    protected T Child<T>(string name) where T : Module
    {
        int i = IndexOf(_children, name);
        if (i < 0) throw new KeyNotFoundException($"{GetType().Name}: no child module '{name}'");
        return _children[i].Value as T
            ?? throw new InvalidCastException($"{GetType().Name}: child '{name}' is a {_children[i].Value.GetType().Name}, "
                + $"not a {typeof(T).Name}");
    }

    /// <summary>Swaps the child <paramref name="name"/> for <paramref name="module"/> and returns the old one (not disposed).</summary>
    public Module ReplaceChild(string name, Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        int i = IndexOf(_children, name);
        if (i < 0) throw new KeyNotFoundException($"{GetType().Name}: no child module '{name}' to replace");
        var old = _children[i].Value;
        module.Train(Training);
        _children[i] = new(name, module);
        return old;
    }

    public IEnumerable<KeyValuePair<string, Module>> NamedChildren() => _children;

    /// <summary>Adds <paramref name="module"/> as a new child; injections use it to plug a hook (prompt, prefix, adapter) into a
    /// model.</summary>
    public T AddChild<T>(string name, T module) where T : Module => RegisterModule(name, module);

    /// <summary>Removes the child <paramref name="name"/> and returns it (not disposed).</summary>
    public Module RemoveChild(string name)
    {
        int i = IndexOf(_children, name);
        if (i < 0) throw new KeyNotFoundException($"{GetType().Name}: no child module '{name}' to remove");
        var old = _children[i].Value;
        _children.RemoveAt(i);
        return old;
    }

    /// <summary>The child <paramref name="name"/> when there is one and it is a <typeparamref name="T"/>, else null (optional
    /// hooks).</summary>
    public T? FindChild<T>(string name) where T : class
    {
        int i = IndexOf(_children, name);
        return i < 0 ? null : _children[i].Value as T;
    }

    /// <summary>This module (with the empty name) and every descendant, depth first, with dotted paths.</summary>
    public IEnumerable<KeyValuePair<string, Module>> NamedModules(string prefix = "")
    {
        yield return new(prefix, this);
        foreach (var (name, child) in _children)
            foreach (var m in child.NamedModules(Join(prefix, name)))
                yield return m;
    }

    /// <summary>Every parameter of this module and its descendants with its dotted path.</summary>
    public IEnumerable<KeyValuePair<string, Parameter>> NamedParameters(string prefix = "")
    {
        foreach (var (name, p) in _parameters) yield return new(Join(prefix, name), p);
        foreach (var (name, child) in _children)
            foreach (var p in child.NamedParameters(Join(prefix, name)))
                yield return p;
    }

    public IEnumerable<Parameter> Parameters() => NamedParameters().Select(p => p.Value);

    /// <summary>The parameters an optimizer should update (not frozen).</summary>
    public IEnumerable<Parameter> TrainableParameters() => Parameters().Where(p => p.Trainable);

    /// <summary>The module at dotted <paramref name="path"/> ("" is this one).</summary>
    public Module GetSubmodule(string path)
    {
        if (path.Length == 0) return this;
        Module m = this;
        foreach (var part in path.Split('.'))
        {
            int i = IndexOf(m._children, part);
            if (i < 0) throw new KeyNotFoundException($"{GetType().Name}: no submodule '{path}' (missing '{part}' in {m.GetType().Name})");
            m = m._children[i].Value;
        }
        return m;
    }

    /// <summary>The parameter at dotted <paramref name="path"/>.</summary>
    public Parameter GetParameter(string path)
    {
        int dot = path.LastIndexOf('.');
        var owner = dot < 0 ? this : GetSubmodule(path[..dot]);
        string name = dot < 0 ? path : path[(dot + 1)..];
        int i = IndexOf(owner._parameters, name);
        if (i < 0) throw new KeyNotFoundException($"{GetType().Name}: no parameter '{path}'");
        return owner._parameters[i].Value;
    }

    /// <summary>Sets training mode on this module and all descendants.</summary>
    public Module Train(bool training = true)
    {
        Training = training;
        foreach (var (_, child) in _children) child.Train(training);
        return this;
    }

    /// <summary>Inference mode: dropout off.</summary>
    public Module Eval() => Train(false);

    /// <summary>Freezes every parameter of this module and its descendants.</summary>
    public void Freeze()
    {
        foreach (var p in Parameters()) p.Freeze();
    }

    public void Unfreeze()
    {
        foreach (var p in Parameters()) p.Unfreeze();
    }

    /// <summary>
    /// Freezes the parameters whose dotted path matches the glob <paramref name="pattern"/> (<c>*</c> any run
    /// without dots, <c>**</c> any run, <c>?</c> one character). Returns how many were frozen.
    /// </summary>
    public int FreezeMatching(string pattern) => FreezeWhere(GlobToRegex(pattern));

    /// <summary>Freezes the parameters whose dotted path the regular expression finds. Returns how many.</summary>
    public int FreezeWhere(Regex regex)
    {
        int n = 0;
        foreach (var (name, p) in NamedParameters())
        {
            if (!regex.IsMatch(name)) continue;
            p.Freeze();
            n++;
        }
        return n;
    }

    /// <summary>Unfreezes the parameters whose dotted path matches the glob. Returns how many.</summary>
    public int UnfreezeMatching(string pattern)
    {
        var regex = GlobToRegex(pattern);
        int n = 0;
        foreach (var (name, p) in NamedParameters())
        {
            if (!regex.IsMatch(name)) continue;
            p.Unfreeze();
            n++;
        }
        return n;
    }

    public static Regex GlobToRegex(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        var sb = new System.Text.StringBuilder("^");
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            if (c == '*' && i + 1 < pattern.Length && pattern[i + 1] == '*')
            {
                sb.Append(".*");
                i++;
            }
            else if (c == '*') sb.Append("[^.]*");
            else if (c == '?') sb.Append("[^.]");
            else sb.Append(Regex.Escape(c.ToString()));
        }
        return new Regex(sb.Append('$').ToString(), RegexOptions.CultureInvariant);
    }

    /// <summary>Trainable and total parameter counts (elements).</summary>
    public (long Trainable, long Total) ParameterCounts()
    {
        long trainable = 0, total = 0;
        foreach (var p in Parameters())
        {
            total += p.Count;
            if (p.Trainable) trainable += p.Count;
        }
        return (trainable, total);
    }

    /// <summary>Drops every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.ZeroGrad();
    }

    /// <summary>Moves every parameter to <paramref name="device"/> (gradients are dropped).</summary>
    public Module To(Device device)
    {
        foreach (var p in Parameters()) p.To(device);
        return this;
    }

    /// <summary>The parameter values by dotted path (views sharing the parameters' memory, cut from the graph).</summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var dict = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, p) in NamedParameters())
        {
            var t = p.Value.Detach();
            t.Name = name;
            dict[name] = t;
        }
        return dict;
    }

    /// <summary>Loads <paramref name="state"/> strictly into a freshly built <paramref name="model"/>; disposes it if the state does not
    /// fit.</summary>
    public static T WithState<T>(T model, IReadOnlyDictionary<string, Tensor> state, string source) where T : Module
    {
        try
        {
            model.LoadStateDict(state, strict: true, source);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Copies values into the parameters by dotted path. Shapes must match. With <paramref name="strict"/>,
    /// every parameter must be given and no unknown name may appear; the error lists all problems at once.
    /// Returns the names that were loaded.
    /// </summary>
    public IReadOnlyList<string> LoadStateDict(IReadOnlyDictionary<string, Tensor> state, bool strict = true, string source = "state dict")
    {
        ArgumentNullException.ThrowIfNull(state);
        var mine = NamedParameters().ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        var problems = new List<string>();
        foreach (var (name, t) in state)
        {
            if (!mine.TryGetValue(name, out var p))
            {
                if (strict) problems.Add($"unexpected tensor '{name}' {t.Describe()}");
                continue;
            }
            if (!t.ShapeEquals(p.Value))
                problems.Add($"'{name}' has shape {t.Describe()} in the {source}, but the model expects {p.Value.Describe()}");
            else if (t.DType != DType.Float32) problems.Add($"'{name}' is {t.DType.Name()} in the {source}, but parameters are float32");
        }
        if (strict)
            foreach (var name in mine.Keys)
                if (!state.ContainsKey(name)) problems.Add($"missing tensor '{name}' {mine[name].Value.Describe()}");
        if (problems.Count > 0)
            throw new InvalidDataException($"{GetType().Name}: cannot load the {source}: {string.Join("; ", problems)}");
        var loaded = new List<string>();
        foreach (var (name, t) in state)
        {
            if (!mine.TryGetValue(name, out var p)) continue;
            p.CopyFrom(t);
            loaded.Add(name);
        }
        return loaded;
    }

    /// <summary>The dotted path profiler scopes carry for this module; null until <see cref="AssignProfilePaths"/>.</summary>
    public string? ProfilePath { get; private set; }

    /// <summary>
    /// Names this module and every descendant by its dotted path (this one by <paramref name="name"/>), so their forward
    /// passes open profiler scopes with those names (<c>bert.encoder.layer.3.attention.self.query.lora_B</c>) whenever a
    /// <see cref="Kernels.Profiling.KernelProfiler"/> runs; the backward kernels of what ran inside a scope are attributed
    /// to it too. Call again after an injection swaps children.
    /// </summary>
    public void AssignProfilePaths(string name = "model")
    {
        foreach (var (path, module) in NamedModules())
            module.ProfilePath = path.Length == 0 ? name : path;
    }

    /// <summary>A profiler scope named by <see cref="ProfilePath"/> while a profiler runs, else a no-op; forwards open it.</summary>
    protected IDisposable ProfileScope() => Kernels.Profiling.KernelProfiler.ModuleScope(ProfilePath);

    /// <summary>Frees every parameter's memory.</summary>
    public void Dispose()
    {
        foreach (var p in Parameters()) p.Dispose();
        GC.SuppressFinalize(this);
    }

    private static string Join(string prefix, string name) => prefix.Length == 0 ? name : prefix + "." + name;

    private static int IndexOf<T>(List<KeyValuePair<string, T>> list, string name)
    {
        for (int i = 0; i < list.Count; i++)
            if (list[i].Key == name) return i;
        return -1;
    }

    private void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
            throw new ArgumentException($"{GetType().Name}: '{name}' is not a valid name (non-empty, no dots)");
    }
}
