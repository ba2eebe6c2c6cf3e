using Finetune.Nn;
using Finetune.Nn.IO;
using Finetune.Peft.Lora;

namespace Finetune.Peft;

/// <summary>Trainable / total parameter counts, printed as PEFT's print_trainable_parameters does.</summary>
public readonly record struct TrainableReport(long Trainable, long Total)
{
    public double Percent => Total == 0 ? 0 : 100.0 * Trainable / Total;

    public override string ToString() =>
        FormattableString.Invariant($"trainable params: {Trainable:N0} || all params: {Total:N0} || trainable%: {Percent:F4}");
}

/// <summary>A model with LoRA injected: the base frozen, the adapters (and modules to save) trainable.</summary>
public sealed class PeftModel<TModel> where TModel : Module
{
    internal PeftModel(TModel model, LoraConfig config, IReadOnlyList<string> adaptedPaths)
    {
        Model = model;
        Config = config;
        AdaptedPaths = adaptedPaths;
    }

    /// <summary>The wrapped model; call its Forward as before.</summary>
    public TModel Model { get; }

    public LoraConfig Config { get; }

    /// <summary>Dotted paths of the Linears that were wrapped.</summary>
    public IReadOnlyList<string> AdaptedPaths { get; }

    public IEnumerable<LoraLinear> LoraLayers => Model.NamedModules().Select(m => m.Value).OfType<LoraLinear>();

    public TrainableReport TrainableReport()
    {
        var (trainable, total) = Model.ParameterCounts();
        return new TrainableReport(trainable, total);
    }

    /// <summary>The parameters an optimizer should see.</summary>
    public IEnumerable<Parameter> TrainableParameters() => Model.TrainableParameters();

    /// <summary>Folds every adapter into its base weight.</summary>
    public void Merge()
    {
        foreach (var l in LoraLayers) l.Merge();
    }

    public void Unmerge()
    {
        foreach (var l in LoraLayers) l.Unmerge();
    }

    /// <summary>The adapter weights and modules to save by dotted path (views; the caller disposes them).</summary>
    public Dictionary<string, Tensor> AdapterStateDict()
    {
        var state = Model.StateDict();
        foreach (var name in state.Keys.Where(n => !IsAdapterTensor(n)).ToArray())
        {
            state[name].Dispose();
            state.Remove(name);
        }
        return state;
    }

    /// <summary>Writes adapter_config.json and adapter_model.safetensors into <paramref name="directory"/>.</summary>
    public void SaveAdapter(string directory)
    {
        Directory.CreateDirectory(directory);
        var state = AdapterStateDict();
        try
        {
            SafeTensors.Save(Path.Combine(directory, Peft.AdapterWeightsFile), state, new Dictionary<string, string> { ["format"] = "pt" });
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
        }
        var configPath = Path.Combine(directory, Peft.AdapterConfigFile);
        var tmp = configPath + ".tmp";
        File.WriteAllText(tmp, Config.ToJson());
        File.Move(tmp, configPath, overwrite: true);
    }

    /// <summary>Loads adapter weights saved by <see cref="SaveAdapter"/> into this model (every adapter tensor must be present).</summary>
    public void LoadAdapter(string directory)
    {
        var path = Path.Combine(directory, Peft.AdapterWeightsFile);
        var state = SafeTensors.Load(path);
        try
        {
            var expected = Model.NamedParameters().Select(p => p.Key).Where(IsAdapterTensor).ToHashSet(StringComparer.Ordinal);
            var missing = expected.Where(n => !state.ContainsKey(n)).ToArray();
            if (missing.Length > 0)
                throw new InvalidDataException($"{path}: missing adapter tensors: {string.Join(", ", missing)}");
            Model.LoadStateDict(state, strict: false, path);
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
        }
    }

    private bool IsAdapterTensor(string name) =>
        name.Contains(".lora_A.", StringComparison.Ordinal) || name.Contains(".lora_B.", StringComparison.Ordinal)
        || Config.ModulesToSave.Any(m => name.StartsWith(m + ".", StringComparison.Ordinal) || name.Contains("." + m + ".", StringComparison.Ordinal));
}

/// <summary>The PEFT entry point: <c>Peft.Apply(model, config)</c>.</summary>
public static class Peft
{
    public const string AdapterConfigFile = "adapter_config.json";
    public const string AdapterWeightsFile = "adapter_model.safetensors";

    /// <summary>
    /// Freezes every parameter of <paramref name="model"/>, wraps the targeted Linears with LoRA (whose A and B are
    /// trainable) and unfreezes the modules to save. The model is changed in place and returned wrapped.
    /// </summary>
    public static PeftModel<TModel> Apply<TModel>(TModel model, LoraConfig config) where TModel : Module
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        model.Freeze();
        var paths = LoraInjector.Inject(model, config);
        foreach (var (path, m) in model.NamedModules())
            if (path.Length > 0 && LoraConfig.Matches(path, config.ModulesToSave)) m.Unfreeze();
        return new PeftModel<TModel>(model, config, paths);
    }
}
