using Finetune.Nn;
using Finetune.Nn.IO;

namespace Finetune.Peft;

/// <summary>
/// The PEFT entry point, as Hugging Face PEFT's get_peft_model and PeftModel.from_pretrained:
/// <c>PeftModel.Apply(model, config)</c>, <c>PeftModel.Load(model, directory)</c>.
/// </summary>
public static class PeftModel
{
    public const string AdapterConfigFile = "adapter_config.json";
    public const string AdapterWeightsFile = "adapter_model.safetensors";
    public const string DefaultAdapter = "default";

    /// <summary>
    /// Freezes every parameter of <paramref name="model"/> and injects the method of <paramref name="config"/> as the
    /// adapter "default"; the adapter's own parameters (and the modules to save) are trainable. The model is changed in place.
    /// </summary>
    public static PeftModel<TModel> Apply<TModel>(TModel model, PeftConfig config, string adapterName = DefaultAdapter)
        where TModel : Module
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        model.Freeze();
        return new PeftModel<TModel>(model).AddAdapter(adapterName, config);
    }

    /// <summary>
    /// PEFT's from_pretrained: reads adapter_config.json, injects that method into <paramref name="model"/> and loads
    /// adapter_model.safetensors, checking every tensor against the model. The base model is only read.
    /// </summary>
    public static PeftModel<TModel> Load<TModel>(TModel model, string directory, string adapterName = DefaultAdapter) where TModel : Module
    {
        var configPath = Path.Combine(directory, AdapterConfigFile);
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{directory}: {AdapterConfigFile} is missing", configPath);
        var config = ReadConfig(configPath, model);
        PeftModel<TModel> peft;
        try
        {
            peft = Apply(model, config, adapterName);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{configPath}: the config does not fit this {model.GetType().Name}: {e.Message}", e);
        }
        peft.LoadWeights(Path.Combine(directory, AdapterWeightsFile));
        return peft;
    }

    /// <summary>Loads a saved adapter as another named adapter of <paramref name="peft"/> and activates it.</summary>
    public static void LoadAdapter<TModel>(PeftModel<TModel> peft, string directory, string adapterName) where TModel : Module
    {
        var configPath = Path.Combine(directory, AdapterConfigFile);
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{directory}: {AdapterConfigFile} is missing", configPath);
        peft.AddAdapter(adapterName, ReadConfig(configPath, peft.Model));
        peft.LoadWeights(Path.Combine(directory, AdapterWeightsFile));
    }

    /// <summary>
    /// Reads an adapter_config.json written here or by Hugging Face PEFT: PEFT's bookkeeping fields are set aside, its
    /// prompt-learning shape fields must describe <paramref name="model"/>.
    /// </summary>
    internal static PeftConfig ReadConfig(string configPath, Module model)
    {
        var fields = JsonFields.ReadFile(configPath);
        PeftFormat.CheckModelFields(fields.Object, model, configPath);
        return PeftRegistry.ReadConfig(fields);
    }

    internal static void CheckSameConfig(PeftConfig saved, PeftConfig active, string source)
    {
        if (saved.PeftType != active.PeftType)
            throw new InvalidDataException($"{source}: field 'peft_type' is '{saved.PeftType}', but the active adapter "
                + $"is {active.PeftType}");
        var a = System.Text.Json.Nodes.JsonNode.Parse(saved.ToJson())!.AsObject();
        var b = System.Text.Json.Nodes.JsonNode.Parse(active.ToJson())!.AsObject();
        foreach (var (key, value) in b)
            if (!System.Text.Json.Nodes.JsonNode.DeepEquals(a[key], value))
                throw new InvalidDataException($"{source}: field '{key}' is {a[key]?.ToJsonString() ?? "missing"}, but the active adapter "
                    + $"has {value?.ToJsonString() ?? "null"}");
    }
}
