using Finetune.Nn;
using Finetune.Nn.IO;

namespace Finetune.Peft;

/// <summary>
/// A model with one or more named adapters. At most one is active: the others are taken out of the model (their
/// modules kept here), so the forward pass, the optimizer and the parameter counts see only the active one.
/// </summary>
public sealed class PeftModel<TModel> : IDisposable where TModel : Module
{
    private readonly Dictionary<string, Injection> _adapters = new(StringComparer.Ordinal);

    internal PeftModel(TModel model) => Model = model;

    /// <summary>The wrapped model; call its Forward as before.</summary>
    public TModel Model { get; }

    /// <summary>The active adapter's name, or null when all are disabled.</summary>
    public string? ActiveAdapter { get; private set; }

    public IReadOnlyCollection<string> Adapters => _adapters.Keys;

    /// <summary>The active adapter's config.</summary>
    public PeftConfig Config => Active.Config;

    /// <summary>Dotted paths of the modules the active adapter replaced or hooked into.</summary>
    public IReadOnlyList<string> AdaptedPaths => Active.Paths;

    /// <summary>The model's layers of type <typeparamref name="T"/>, e.g. <c>Layers&lt;LoraLinear&gt;()</c>.</summary>
    public IEnumerable<T> Layers<T>() => Model.NamedModules().Select(m => m.Value).OfType<T>();

    private Injection Active =>
        ActiveAdapter is { } name ? _adapters[name] : throw new InvalidOperationException("peft: no adapter is active");

    public TrainableReport TrainableReport()
    {
        var (trainable, total) = Model.ParameterCounts();
        return new TrainableReport(trainable, total);
    }

    /// <summary>The parameters an optimizer should see.</summary>
    public IEnumerable<Parameter> TrainableParameters() => Model.TrainableParameters();

    /// <summary>Injects a new adapter and makes it the active one (the previous one is switched off, not lost).</summary>
    public PeftModel<TModel> AddAdapter(string name, PeftConfig config)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(config);
        if (_adapters.ContainsKey(name)) throw new ArgumentException($"peft: an adapter named '{name}' already exists");
        PeftConfig.CheckNames("modules_to_save", config.ModulesToSave);
        config.Validate();
        var method = PeftRegistry.ForConfig(config);
        if (_adapters.Values.Any(a => !a.Switchable))
            throw new InvalidOperationException($"peft: adapter '{_adapters.First(a => !a.Value.Switchable).Key}' trains base parameters "
                + "in place, so no other adapter can share the model");
        var previous = ActiveAdapter;
        if (previous is not null) Active.Deactivate();
        ActiveAdapter = null;
        var injection = new Injection(Model, config);
        try
        {
            method.Inject(config, injection);
            SaveModules(config, injection);
            if (_adapters.Count > 0 && !injection.Switchable)
                throw new InvalidOperationException($"peft: a {config.PeftType} adapter trains base parameters in place, so it must be the "
                    + "only adapter on a model");
        }
        catch
        {
            // A config that does not fit leaves the model as it was.
            injection.Rollback();
            if (previous is not null) SetAdapter(previous);
            throw;
        }
        _adapters[name] = injection;
        ActiveAdapter = name;
        return this;
    }

    /// <summary>Makes <paramref name="name"/> the active adapter.</summary>
    public void SetAdapter(string name)
    {
        if (!_adapters.TryGetValue(name, out var next))
            throw new KeyNotFoundException($"peft: no adapter named '{name}' (have {string.Join(", ", _adapters.Keys)})");
        if (ActiveAdapter == name) return;
        CheckUnmerged();
        if (ActiveAdapter is not null) Active.Deactivate();
        next.Activate();
        ActiveAdapter = name;
    }

    /// <summary>Switches every adapter off: the model computes exactly what the base model does.</summary>
    public void DisableAdapters()
    {
        if (ActiveAdapter is null) return;
        CheckUnmerged();
        Active.Deactivate();
        ActiveAdapter = null;
    }

    /// <summary>Removes an adapter that is not active and frees its weights.</summary>
    public void DeleteAdapter(string name)
    {
        if (!_adapters.TryGetValue(name, out var injection)) throw new KeyNotFoundException($"peft: no adapter named '{name}'");
        if (ActiveAdapter == name)
            throw new InvalidOperationException($"peft: adapter '{name}' is active; switch to another or disable adapters first");
        foreach (var p in injection.AddedParameters()) p.Dispose();
        _adapters.Remove(name);
    }

    /// <summary>Folds the active adapter into the base weights (LoRA and its variants; other methods throw).</summary>
    public void Merge() => PeftRegistry.ForConfig(Config).Merge(Active);

    public void Unmerge() => PeftRegistry.ForConfig(Config).Unmerge(Active);

    /// <summary>The tensors of adapter <paramref name="name"/> (default: the active one) by the model's dotted paths, as views.</summary>
    public Dictionary<string, Tensor> AdapterStateDict(string? name = null)
    {
        string target = name ?? ActiveAdapter ?? throw new InvalidOperationException("peft: no adapter is active");
        var previous = ActiveAdapter;
        if (previous != target) SetAdapter(target);
        try
        {
            var injection = _adapters[target];
            var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var (path, p) in Model.NamedParameters())
            {
                if (!injection.Owns(p)) continue;
                var t = p.Value.Detach();
                t.Name = path;
                state[path] = t;
            }
            return state;
        }
        finally
        {
            if (previous != target)
            {
                if (previous is null) DisableAdapters();
                else SetAdapter(previous);
            }
        }
    }

    /// <summary>Writes adapter_config.json and adapter_model.safetensors (each atomically) into <paramref name="directory"/>.</summary>
    public void SaveAdapter(string directory, string? name = null)
    {
        Directory.CreateDirectory(directory);
        var config = _adapters[name ?? ActiveAdapter ?? throw new InvalidOperationException("peft: no adapter is active")].Config;
        var state = AdapterStateDict(name);
        try
        {
            SafeTensors.Save(Path.Combine(directory, PeftModel.AdapterWeightsFile), state,
                new Dictionary<string, string> { ["format"] = "pt", ["peft_type"] = config.PeftType });
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
        }
        AtomicFile.WriteAllText(Path.Combine(directory, PeftModel.AdapterConfigFile), config.ToJson());
    }

    /// <summary>
    /// Loads weights saved by <see cref="SaveAdapter"/> into the active adapter. The saved config must equal the active one;
    /// every adapter tensor must be present with its shape, and no other tensor may appear. Errors name the file and the tensor or field.
    /// </summary>
    public void LoadAdapter(string directory)
    {
        var configPath = Path.Combine(directory, PeftModel.AdapterConfigFile);
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{directory}: {PeftModel.AdapterConfigFile} is missing", configPath);
        var saved = PeftRegistry.ReadConfigFile(configPath);
        PeftModel.CheckSameConfig(saved, Config, configPath);
        LoadWeights(Path.Combine(directory, PeftModel.AdapterWeightsFile));
    }

    internal void LoadWeights(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"adapter weights not found: {path}", path);
        var state = SafeTensors.Load(path);
        try
        {
            var expected = Model.NamedParameters().Where(p => Active.Owns(p.Value))
                .ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
            var problems = new List<string>();
            foreach (var (n, p) in expected)
            {
                if (!state.TryGetValue(n, out var t)) problems.Add($"missing tensor '{n}' {p.Value.Describe()}");
                else if (!t.ShapeEquals(p.Value)) problems.Add($"tensor '{n}' has shape {t.Describe()} in the file, but the model expects "
                    + $"{p.Value.Describe()}");
            }
            foreach (var n in state.Keys.Where(n => !expected.ContainsKey(n)))
                problems.Add($"unexpected tensor '{n}' (not a parameter of this adapter on this model)");
            if (problems.Count > 0)
                throw new InvalidDataException($"{path}: cannot load the adapter: "
                    + $"{string.Join("; ", problems.Take(6))}{(problems.Count > 6 ? $"; and {problems.Count - 6} more" : "")}");
            Model.LoadStateDict(state, strict: false, path);
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
        }
    }

    /// <summary>Frees the weights the adapters hold outside the model: inactive adapters and replaced modules (the model's owner disposes
    /// the rest).</summary>
    public void Dispose()
    {
        var live = new HashSet<Parameter>(Model.Parameters(), ReferenceEqualityComparer.Instance);
        var held = _adapters.Values.SelectMany(a => a.HeldParameters()).Where(p => !live.Contains(p))
            .Distinct<Parameter>(ReferenceEqualityComparer.Instance);
        foreach (var p in held) p.Dispose();
    }

    private void CheckUnmerged()
    {
        if (ActiveAdapter is { } name && PeftRegistry.ForConfig(Config).IsMerged(Active))
            throw new InvalidOperationException($"peft: the active adapter '{name}' is merged; Unmerge() before switching adapters");
    }

    /// <summary>Each module to save gets a trainable copy owned by this adapter when it is a Linear; others train in place.</summary>
    private static void SaveModules(PeftConfig config, Injection injection)
    {
        if (config.ModulesToSave.Count == 0) return;
        var matches = injection.Root.NamedModules().Where(m => m.Key.Length > 0 && Targets.Matches(m.Key, config.ModulesToSave)).ToList();
        if (matches.Count == 0)
            throw new ArgumentException($"peft: modules_to_save [{string.Join(", ", config.ModulesToSave)}] match no module of "
                + $"{injection.Root.GetType().Name}");
        foreach (var (path, module) in matches)
        {
            if (module is Linear linear)
            {
                Linear copy;
                using (GradMode.NoGrad()) copy = new Linear(linear.Weight.Value.Clone(), linear.Bias?.Value.Clone());
                injection.Replace(path, copy);
            }
            else
                foreach (var p in module.Parameters()) injection.TrainInPlace(p);
        }
    }
}
