namespace Finetune.Nn.IO;

/// <summary>A Hugging Face BERT checkpoint folder: <c>config.json</c> + <c>model.safetensors</c> with HF tensor names.</summary>
public static class BertCheckpoint
{
    public const string ConfigFile = "config.json";
    public const string WeightsFile = "model.safetensors";

    /// <summary>Writes the model's config and weights as one folder swapped in by rename (<see cref="AtomicDirectory"/>).</summary>
    public static void Save(BertModel model, string directory)
    {
        ArgumentNullException.ThrowIfNull(model);
        AtomicDirectory.Write(directory, tmp =>
        {
            AtomicFile.WriteAllText(Path.Combine(tmp, ConfigFile), model.Config.ToJson());
            var state = model.StateDict();
            try
            {
                SafeTensors.Save(Path.Combine(tmp, WeightsFile), state, new Dictionary<string, string> { ["format"] = "pt" });
            }
            finally
            {
                foreach (var t in state.Values) t.Dispose();
            }
        });
    }

    /// <summary>
    /// Loads a BertModel. Names may carry the "bert." prefix of HF task models; pretraining heads (<c>cls.*</c>) and the
    /// <c>position_ids</c> buffer are skipped; every encoder parameter must be present with its shape.
    /// </summary>
    public static BertModel Load(string directory)
    {
        string configPath = Path.Combine(directory, ConfigFile), weightsPath = Path.Combine(directory, WeightsFile);
        if (!File.Exists(configPath))
            throw new FileNotFoundException($"{configPath}: not found (a BERT checkpoint needs "
                + $"{ConfigFile} and {WeightsFile})", configPath);
        var config = BertConfig.FromJson(JsonFields.ReadFile(configPath));
        var raw = SafeTensors.Load(weightsPath);
        try
        {
            var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var (name, t) in raw)
            {
                string n = name.StartsWith("bert.", StringComparison.Ordinal) ? name["bert.".Length..] : name;
                if (n.StartsWith("cls.", StringComparison.Ordinal) || n.EndsWith("position_ids", StringComparison.Ordinal)) continue;
                state[n] = t;
            }
            var model = new BertModel(config, new Generator(0), addPooler: state.ContainsKey("pooler.dense.weight"));
            return Module.WithState(model, state, weightsPath);
        }
        finally
        {
            foreach (var t in raw.Values) t.Dispose();
        }
    }
}
