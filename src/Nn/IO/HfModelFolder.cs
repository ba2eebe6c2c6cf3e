using System.Text.Json;
using System.Text.Json.Nodes;

namespace Finetune.Nn.IO;

/// <summary>
/// A Hugging Face model folder: <c>config.json</c> and <c>model.safetensors</c> (plus the tokenizer files). BERT-family
/// encoders (<c>bert</c>, which covers MiniLM, and <c>distilbert</c>, whose names are mapped onto BERT's) and ViTs in the
/// <c>google/vit-*</c> layout load into this engine's modules; any other <c>model_type</c> is an error that names it.
/// </summary>
public static class HfModelFolder
{
    public const string ConfigFile = "config.json";
    public const string WeightsFile = "model.safetensors";

    public static readonly IReadOnlyList<string> ModelTypes = new[] { "bert", "distilbert", "vit" };

    /// <summary>config.json as a JSON object, after checking the folder holds config.json and model.safetensors.</summary>
    public static JsonObject ReadConfig(string directory)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"--model: folder '{directory}' does not exist");
        string configPath = Path.Combine(directory, ConfigFile), weightsPath = Path.Combine(directory, WeightsFile);
        if (!File.Exists(configPath))
            throw new FileNotFoundException($"{directory}: {ConfigFile} is missing (a Hugging Face model folder holds {ConfigFile} and " +
                $"{WeightsFile})", configPath);
        if (!File.Exists(weightsPath))
            throw new FileNotFoundException(File.Exists(Path.Combine(directory, "pytorch_model.bin"))
                ? $"{directory}: {WeightsFile} is missing; only safetensors weights are read (pytorch_model.bin is a pickle)"
                : $"{directory}: {WeightsFile} is missing", weightsPath);
        JsonObject o;
        try
        {
            o = JsonNode.Parse(File.ReadAllText(configPath)) as JsonObject
                ?? throw new InvalidDataException($"{configPath}: the top level is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{configPath}: not valid JSON: {e.Message}", e);
        }
        var type = o["model_type"] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
        if (type is null || !ModelTypes.Contains(type))
        {
            var found = o["model_type"]?.ToJsonString() ?? "missing";
            throw new InvalidDataException($"{configPath}: field 'model_type' is {found}; supported: {string.Join(", ", ModelTypes)}");
        }
        return o;
    }

    public static string ModelType(string directory) => ReadConfig(directory)["model_type"]!.GetValue<string>();

    /// <summary>The encoder of a BERT or DistilBERT folder (with BERT's pooler when the folder has one); task heads are skipped.</summary>
    public static BertModel LoadBert(string directory)
    {
        return LoadBertParts(directory, wantHead: false).Model;
    }

    /// <summary>
    /// A BertForSequenceClassification folder: the encoder and <c>classifier.*</c>, the number of labels from the classifier's
    /// rows; pooling is BERT's pooler unless config.json says <c>"pooling": "mean"</c> (written by this engine's export).
    /// </summary>
    public static BertForSequenceClassification LoadBertClassifier(string directory)
    {
        var config = ReadConfig(directory);
        var (bert, head) = LoadBertParts(directory, wantHead: true);
        var source = Path.Combine(directory, WeightsFile);
        if (head is null)
        {
            bert.Dispose();
            throw new InvalidDataException($"{source}: no classifier.weight; this folder holds an encoder without a classification head");
        }
        var pooling = config["pooling"]?.GetValue<string>() == "mean" ? PoolingMode.Mean : PoolingMode.Pooler;
        try
        {
            var model = new BertForSequenceClassification(bert, head.Value.Weight.Size(0), pooling);
            model.LoadStateDict(new Dictionary<string, Tensor> { ["classifier.weight"] = head.Value.Weight,
                ["classifier.bias"] = head.Value.Bias },
                strict: false, source);
            return model;
        }
        catch (ArgumentException e)
        {
            bert.Dispose();
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }
        finally
        {
            head.Value.Weight.Dispose();
            head.Value.Bias.Dispose();
        }
    }

    /// <summary>The ViT encoder of a <c>google/vit-*</c> folder (or one written by <see cref="VitCheckpoint"/>).</summary>
    public static VitModel LoadVit(string directory)
    {
        var (model, head) = LoadVitParts(directory);
        head?.Weight.Dispose();
        head?.Bias.Dispose();
        return model;
    }

    /// <summary>A ViTForImageClassification folder: encoder and <c>classifier.*</c>.</summary>
    public static VitForImageClassification LoadVitClassifier(string directory)
    {
        var (vit, head) = LoadVitParts(directory);
        if (head is null)
        {
            vit.Dispose();
            throw new InvalidDataException($"{Path.Combine(directory, WeightsFile)}: no classifier.weight; this folder holds an encoder " +
                $"without a classification head");
        }
        var (weight, bias) = head.Value;
        try
        {
            var model = new VitForImageClassification(vit, weight.Size(0));
            model.LoadStateDict(new Dictionary<string, Tensor> { ["classifier.weight"] = weight, ["classifier.bias"] = bias },
                strict: false, Path.Combine(directory, WeightsFile));
            return model;
        }
        finally
        {
            weight.Dispose();
            bias.Dispose();
        }
    }

    /// <summary>
    /// Writes a BERT sequence classifier as a Hugging Face BertForSequenceClassification folder (config.json with num_labels,
    /// id2label/label2id when <paramref name="labels"/> are given, and <c>"pooling": "mean"</c> for a mean-pooled head).
    /// </summary>
    public static void SaveBertClassifier(BertForSequenceClassification model, string directory, IReadOnlyList<string>? labels = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var config = JsonNode.Parse(model.Bert.Config.ToJson())!.AsObject();
        config["architectures"] = new JsonArray("BertForSequenceClassification");
        var names = labels ?? Enumerable.Range(0, model.NumLabels).Select(i => $"LABEL_{i}").ToList();
        if (names.Count != model.NumLabels)
            throw new ArgumentException($"hf folder: {names.Count} label names for a head of {model.NumLabels} labels");
        config["id2label"] = new JsonObject(names.Select((n, i)
            => KeyValuePair.Create(i.ToString(System.Globalization.CultureInfo.InvariantCulture), (JsonNode?)n)));
        config["label2id"] = new JsonObject(names.Select((n, i) => KeyValuePair.Create(n, (JsonNode?)i)));
        if (model.PoolingMode == PoolingMode.Mean) config["pooling"] = "mean";
        using var scope = TensorScope.Begin();
        Write(directory, config, model.NamedParameters().Select(p => KeyValuePair.Create(p.Key, p.Value.Value.Detach())));
    }

    /// <summary>Writes a ViT classifier in the <c>google/vit-*</c> layout (ViTForImageClassification names).</summary>
    public static void SaveVitClassifier(VitForImageClassification model, string directory)
    {
        ArgumentNullException.ThrowIfNull(model);
        var config = JsonNode.Parse(model.Vit.Config.ToJson())!.AsObject();
        config["hidden_act"] = "gelu";
        config["qkv_bias"] = true;
        config["num_labels"] = model.NumLabels;
        using var scope = TensorScope.Begin();
        var state = new List<KeyValuePair<string, Tensor>>();
        foreach (var (name, p) in model.NamedParameters())
        {
            var t = p.Value.Detach();
            if (name == "vit.embeddings.patch_embeddings.weight")
                t = t.Reshape(t.Size(0), model.Vit.Config.Channels, model.Vit.Config.PatchSize, model.Vit.Config.PatchSize);
            state.Add(KeyValuePair.Create(VitToHf(name), t));
        }
        Write(directory, config, state);
    }

    private static void Write(string directory, JsonObject config, IEnumerable<KeyValuePair<string, Tensor>> state)
    {
        Directory.CreateDirectory(directory);
        SafeTensors.Save(Path.Combine(directory, WeightsFile), state, new Dictionary<string, string> { ["format"] = "pt" });
        // The config goes last: its presence marks a complete folder.
        AtomicFile.WriteAllText(Path.Combine(directory, ConfigFile),
            config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    private static (BertModel Model, (Tensor Weight, Tensor Bias)? Head) LoadBertParts(string directory, bool wantHead)
    {
        var o = ReadConfig(directory);
        string configPath = Path.Combine(directory, ConfigFile), weightsPath = Path.Combine(directory, WeightsFile);
        string type = o["model_type"]!.GetValue<string>();
        if (type == "vit") throw new InvalidDataException($"{configPath}: field 'model_type' is 'vit'; a text model (bert, distilbert) " +
            $"is needed here");
        bool distil = type == "distilbert";
        var config = distil ? DistilBertConfig(o, configPath) : BertConfig.FromJson(o.ToJsonString(), configPath);
        var raw = SafeTensors.Load(weightsPath);
        try
        {
            var (state, headWeight, headBias) = Partition(raw, distil ? DistilBertToBert : BertName);
            if (distil)
            {
                if (wantHead && raw.ContainsKey("pre_classifier.weight"))
                    throw new InvalidDataException($"{weightsPath}: DistilBERT's classification head (pre_classifier, ReLU, classifier) " +
                        $"is not implemented; load the encoder and train a new head");
                // DistilBERT has no token types: one zero row adds nothing.
                state["embeddings.token_type_embeddings.weight"] = Tensor.Zeros(1, config.HiddenSize);
            }
            var model = new BertModel(config, new Generator(0), addPooler: state.ContainsKey("pooler.dense.weight"));
            Module.WithState(model, state, weightsPath);
            return (model, wantHead ? Head(model, headWeight, headBias, config.HiddenSize, weightsPath) : null);
        }
        finally
        {
            foreach (var t in raw.Values) t.Dispose();
        }
    }

    /// <summary>The file's tensors under this engine's names (<paramref name="rename"/> returns null to skip one) and the head's.</summary>
    private static (Dictionary<string, Tensor> State, Tensor? HeadWeight, Tensor? HeadBias) Partition(Dictionary<string, Tensor> raw,
        Func<string, string?> rename)
    {
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        Tensor? weight = null, bias = null;
        foreach (var (name, t) in raw)
        {
            if (name == "classifier.weight") weight = t;
            else if (name == "classifier.bias") bias = t;
            else if (rename(name) is { } n) state[n] = t;
        }
        return (state, weight, bias);
    }

    /// <summary>Copies of classifier.weight [labels, hidden] and classifier.bias [labels], when the file has a head; disposes
    /// <paramref name="model"/> before naming a malformed one.</summary>
    private static (Tensor Weight, Tensor Bias)? Head(Module model, Tensor? weight, Tensor? bias, int hidden, string source)
    {
        if (weight is null) return null;
        if (weight.Rank != 2 || weight.Size(1) != hidden || bias is null || !bias.Shape.SequenceEqual(new[] { weight.Size(0) }))
        {
            model.Dispose();
            throw new InvalidDataException($"{source}: classifier.weight {weight.Describe()} and classifier.bias " +
                $"{bias?.Describe() ?? "(missing)"} do not form a head over hidden size {hidden}");
        }
        return (weight.Clone().Keep(), bias.Clone().Keep());
    }

    /// <summary>HF BERT names to this engine's: "bert." prefix dropped; pretraining heads and position_ids skipped.</summary>
    private static string? BertName(string name)
    {
        string n = name.StartsWith("bert.", StringComparison.Ordinal) ? name["bert.".Length..] : name;
        return n.StartsWith("cls.", StringComparison.Ordinal) || n.EndsWith("position_ids", StringComparison.Ordinal) ? null : n;
    }

    private static readonly (string Hf, string Ours)[] DistilLayerNames =
    {
        ("attention.q_lin.", "attention.self.query."), ("attention.k_lin.", "attention.self.key."),
        ("attention.v_lin.", "attention.self.value."), ("attention.out_lin.", "attention.output.dense."),
        ("sa_layer_norm.", "attention.output.LayerNorm."), ("ffn.lin1.", "intermediate.dense."), ("ffn.lin2.", "output.dense."),
        ("output_layer_norm.", "output.LayerNorm."),
    };

    /// <summary>DistilBERT names to BERT's (<c>transformer.layer.N.attention.q_lin</c> → <c>encoder.layer.N.attention.self.query</c>,
    /// ...).</summary>
    private static string? DistilBertToBert(string name)
    {
        string n = name.StartsWith("distilbert.", StringComparison.Ordinal) ? name["distilbert.".Length..] : name;
        if (n.StartsWith("embeddings.", StringComparison.Ordinal)) return n.EndsWith("position_ids", StringComparison.Ordinal) ? null : n;
        if (!n.StartsWith("transformer.layer.", StringComparison.Ordinal)) return null; // vocab_* (MLM) and task heads
        int dot = n.IndexOf('.', "transformer.layer.".Length);
        string layer = n["transformer.layer.".Length..dot], rest = n[(dot + 1)..];
        foreach (var (hf, ours) in DistilLayerNames)
            if (rest.StartsWith(hf, StringComparison.Ordinal)) return $"encoder.layer.{layer}.{ours}{rest[hf.Length..]}";
        return n;
    }

    private static BertConfig DistilBertConfig(JsonObject o, string source)
    {
        if (o["sinusoidal_pos_embds"] is JsonValue s && s.TryGetValue<bool>(out bool sinusoidal) && sinusoidal)
            throw new InvalidDataException($"{source}: field 'sinusoidal_pos_embds' is true; only learned positions are supported");
        // DistilBERT's names for BERT's fields; its LayerNorm eps is fixed at 1e-12.
        var mapped = new JsonObject
        {
            ["model_type"] = "bert",
            ["vocab_size"] = o["vocab_size"]?.DeepClone(),
            ["hidden_size"] = o["dim"]?.DeepClone(),
            ["num_hidden_layers"] = o["n_layers"]?.DeepClone(),
            ["num_attention_heads"] = o["n_heads"]?.DeepClone(),
            ["intermediate_size"] = o["hidden_dim"]?.DeepClone(),
            ["max_position_embeddings"] = o["max_position_embeddings"]?.DeepClone(),
            ["hidden_dropout_prob"] = o["dropout"]?.DeepClone(),
            ["attention_probs_dropout_prob"] = o["attention_dropout"]?.DeepClone(),
            ["initializer_range"] = o["initializer_range"]?.DeepClone(),
            ["hidden_act"] = o["activation"]?.DeepClone(),
            ["type_vocab_size"] = 1,
            ["layer_norm_eps"] = 1e-12,
        };
        foreach (var key in mapped.Where(p => p.Value is null).Select(p => p.Key).ToList()) mapped.Remove(key);
        try
        {
            return BertConfig.FromJson(mapped.ToJsonString(), source);
        }
        catch (InvalidDataException e)
        {
            // Name DistilBERT's own fields in the message.
            var message = e.Message;
            foreach (var (ours, theirs) in new[] { ("hidden_size", "dim"), ("num_hidden_layers", "n_layers"), ("num_attention_heads",
                "n_heads"), ("intermediate_size", "hidden_dim"), ("hidden_act", "activation") })
                message = message.Replace($"'{ours}'", $"'{theirs}'");
            throw new InvalidDataException(message, e);
        }
    }

    private static (VitModel Model, (Tensor Weight, Tensor Bias)? Head) LoadVitParts(string directory)
    {
        var o = ReadConfig(directory);
        string configPath = Path.Combine(directory, ConfigFile), weightsPath = Path.Combine(directory, WeightsFile);
        if (o["model_type"]!.GetValue<string>() != "vit")
            throw new InvalidDataException($"{configPath}: field 'model_type' is '{o["model_type"]}'; an image model (vit) is needed here");
        if (o["hidden_act"] is { } act && act.ToJsonString() != "\"gelu\"")
            throw new InvalidDataException($"{configPath}: field 'hidden_act' is {act.ToJsonString()}; the ViT supports \"gelu\"");
        if (o["qkv_bias"] is { } qkv && qkv.ToJsonString() != "true")
            throw new InvalidDataException($"{configPath}: field 'qkv_bias' is {qkv.ToJsonString()}; only true is supported");
        var config = VitConfig.FromJson(o.ToJsonString(), configPath);
        var raw = SafeTensors.Load(weightsPath);
        try
        {
            // The Conv2d patch projection [hidden, C, p, p] is our Linear [hidden, C·p·p] (same element order).
            const string patch = "vit.embeddings.patch_embeddings.projection.weight";
            foreach (var key in new[] { patch, patch["vit.".Length..] }.Where(raw.ContainsKey).ToList())
                if (raw[key] is { Rank: 4 } conv)
                {
                    raw[key] = conv.Reshape(conv.Size(0), config.PatchDim);
                    conv.Dispose();
                }
            var (state, headWeight, headBias) = Partition(raw, HfToVit);
            var model = new VitModel(config, new Generator(0));
            Module.WithState(model, state, weightsPath);
            return (model, Head(model, headWeight, headBias, config.HiddenSize, weightsPath));
        }
        finally
        {
            foreach (var t in raw.Values) t.Dispose();
        }
    }

    private static readonly (string Hf, string Ours)[] VitLayerNames =
    {
        ("attention.attention.", "attention.self."), ("layernorm_before.", "attention.output.LayerNorm."),
        ("layernorm_after.", "output.LayerNorm."),
    };

    /// <summary>google/vit-* names to this engine's; the pooler (unused by image classification) is skipped.</summary>
    private static string? HfToVit(string name)
    {
        string n = name.StartsWith("vit.", StringComparison.Ordinal) ? name["vit.".Length..] : name;
        if (n.StartsWith("pooler.", StringComparison.Ordinal)) return null;
        n = n.Replace("patch_embeddings.projection.", "patch_embeddings.");
        foreach (var (hf, ours) in VitLayerNames) n = n.Replace("." + hf, "." + ours);
        return n;
    }

    /// <summary>This engine's ViT classifier names to google/vit-*'s.</summary>
    private static string VitToHf(string name)
    {
        if (!name.StartsWith("vit.", StringComparison.Ordinal)) return name;
        var n = name.Replace("embeddings.patch_embeddings.", "embeddings.patch_embeddings.projection.");
        foreach (var (hf, ours) in VitLayerNames) n = n.Replace("." + ours, "." + hf);
        return n;
    }
}
