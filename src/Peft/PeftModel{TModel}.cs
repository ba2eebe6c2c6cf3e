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

    /// <summary>
    /// What adapter_config.json names as <c>base_model_name_or_path</c>: a Hugging Face model id or a folder (null when unknown).
    /// </summary>
    public string? BaseModelNameOrPath { get; set; }

    /// <summary>
    /// Writes adapter_config.json and adapter_model.safetensors (each atomically) into <paramref name="directory"/>, in PEFT's
    /// layout (<see cref="PeftFormat"/>) so Hugging Face PEFT's from_pretrained loads them.
    /// </summary>
    public void SaveAdapter(string directory, string? name = null)
    {
        string target = name ?? ActiveAdapter ?? throw new InvalidOperationException("peft: no adapter is active");
        if (!_adapters.TryGetValue(target, out var injection)) throw new KeyNotFoundException($"peft: no adapter named '{target}'");
        Directory.CreateDirectory(directory);
        var previous = ActiveAdapter;
        if (previous != target) SetAdapter(target);
        Dictionary<string, Tensor> file;
        try
        {
            var owned = Model.NamedParameters().Where(p => injection.Owns(p.Value));
            file = PeftFormat.ToFile(injection.Config, Model, owned);
        }
        finally
        {
            if (previous != target)
            {
                if (previous is null) DisableAdapters();
                else SetAdapter(previous);
            }
        }
        try
        {
            SafeTensors.Save(Path.Combine(directory, PeftModel.AdapterWeightsFile), file, new Dictionary<string,
                string> { ["format"] = "pt" });
        }
        finally
        {
            foreach (var t in file.Values) t.Dispose();
        }
        AtomicFile.WriteAllText(Path.Combine(directory, PeftModel.AdapterConfigFile), PeftFormat.ConfigJson(injection.Config, Model,
            BaseModelNameOrPath));
    }

    /// <summary>
    /// Loads weights saved by <see cref="SaveAdapter"/> (or by Hugging Face PEFT) into the active adapter. The saved config must
    /// equal the active one; every adapter tensor must be present with its shape, and no other tensor may appear. Errors
    /// name the file and the tensor or field.
    /// </summary>
    public void LoadAdapter(string directory)
    {
        var configPath = Path.Combine(directory, PeftModel.AdapterConfigFile);
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{directory}: {PeftModel.AdapterConfigFile} is missing", configPath);
        var saved = PeftModel.ReadConfig(configPath, Model);
        PeftModel.CheckSameConfig(saved, Config, configPath);
        LoadWeights(Path.Combine(directory, PeftModel.AdapterWeightsFile));
    }

    internal void LoadWeights(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"adapter weights not found: {path}", path);
        var file = SafeTensors.Load(path);
        try
        {
            using var scope = TensorScope.Begin();
            var expected = Model.NamedParameters().Where(p => Active.Owns(p.Value))
                .ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
            var state = PeftFormat.FromFile(Config, Model, expected, file, path);
            Model.LoadStateDict(state, strict: false, path);
        }
        finally
        {
            foreach (var t in file.Values) t.Dispose();
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
