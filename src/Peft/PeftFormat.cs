using System.Text.Json;
using System.Text.Json.Nodes;
using Finetune.Nn;
using Finetune.Peft.IA3;
using Finetune.Peft.Prefix;
using Finetune.Peft.Prompts;

namespace Finetune.Peft;

/// <summary>
/// Hugging Face PEFT's files, key by key (its checkpoint-format guide and get_peft_model_state_dict): every tensor of an
/// adapter that changes modules is stored as <c>base_model.model.&lt;module path&gt;.&lt;name&gt;</c> with the adapter name
/// stripped (<c>…query.lora_A.weight</c>, <c>…query.lora_magnitude_vector</c>, <c>…key.ia3_l</c> shaped [out, 1] or, for
/// feed-forward modules, [1, in]); modules to save (the classifier) keep their own path (<c>base_model.model.classifier.weight</c>).
/// Prompt learning stores one <c>prompt_embeddings</c> tensor (for prefix tuning the projected keys and values,
/// [n, layers·2·hidden]) and prefixes its modules to save with <c>base_model.</c> only.
/// </summary>
public static class PeftFormat
{
    public const string ModelPrefix = "base_model.model.";
    public const string PromptLearningPrefix = "base_model.";
    public const string PromptEmbeddings = "prompt_embeddings";

    /// <summary>Fields PEFT writes that say where an adapter came from or how it was initialised; read and set aside.</summary>
    private static readonly string[] Ignored =
    {
        "task_type", "base_model_name_or_path", "revision", "inference_mode", "auto_mapping", "peft_version", "init_lora_weights",
        "loftq_config", "eva_config", "corda_config", "megatron_core", "init_ia3_weights", "runtime_config", "qalora_group_size",
    };

    /// <summary>Fields PEFT writes whose only value this engine implements (missing and null are accepted too).</summary>
    private static readonly (string Field, string Json)[] Neutral =
    {
        ("fan_in_fan_out", "false"), ("bias", "\"none\""), ("rank_pattern", "{}"), ("alpha_pattern", "{}"), ("layers_to_transform", "null"),
        ("layers_pattern", "null"), ("layer_replication", "null"), ("lora_bias", "false"), ("use_qalora", "false"),
        ("exclude_modules", "null"), ("trainable_token_indices", "null"), ("megatron_config", "null"), ("target_parameters", "null"),
        ("num_transformer_submodules", "1"),
    };

    /// <summary>Fields prompt learning derives from the model; written on save, checked against the model on load.</summary>
    private static readonly string[] ModelFields = { "token_dim", "num_layers", "num_attention_heads" };

    public static bool IsPromptLearning(PeftConfig config) => config is PromptTuningConfig or PrefixTuningConfig;

    /// <summary>PEFT's task type for the model: SEQ_CLS for a BERT sequence classifier, null otherwise (as PEFT for other
    /// models).</summary>
    public static string? TaskType(Module model) => model is BertForSequenceClassification ? "SEQ_CLS" : null;

    /// <summary>adapter_config.json: the method's fields plus PEFT's task type, base model and, for prompt learning, the model's
    /// shape.</summary>
    public static string ConfigJson(PeftConfig config, Module model, string? baseModelNameOrPath)
    {
        var o = JsonNode.Parse(config.ToJson())!.AsObject();
        o["task_type"] = TaskType(model);
        o["base_model_name_or_path"] = baseModelNameOrPath;
        o["revision"] = null;
        o["inference_mode"] = true;
        if (IsPromptLearning(config) && Attention(model) is { } a)
        {
            o["token_dim"] = a.NumHeads * a.HeadDim;
            o["num_layers"] = model.NamedModules().Count(m => m.Value is BertSelfAttention);
            o["num_attention_heads"] = a.NumHeads;
            o["num_transformer_submodules"] = 1;
        }
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>
    /// adapter_config.json without PEFT's bookkeeping, ready for the method's own reader; a field set to something this
    /// engine does not implement (layers_to_transform, rank_pattern, fan_in_fan_out, ...) is an error naming it.
    /// </summary>
    internal static JsonObject StripFileFields(JsonObject o, string source)
    {
        var clean = o.DeepClone().AsObject();
        foreach (var f in Ignored.Concat(ModelFields)) clean.Remove(f);
        foreach (var (field, json) in Neutral)
        {
            if (clean[field] is { } value && !JsonNode.DeepEquals(value, JsonNode.Parse(json)))
                throw new InvalidDataException($"{source}: field '{field}' is {value.ToJsonString()}; only {json} is supported");
            if (field != "bias" || o["peft_type"]?.GetValue<string>() is "LORA") clean.Remove(field);
        }
        return clean;
    }

    /// <summary>The model-shape fields of a prompt-learning config must describe <paramref name="model"/>.</summary>
    internal static void CheckModelFields(JsonObject o, Module model, string source)
    {
        if (Attention(model) is not { } a) return;
        var actual = new Dictionary<string, int>
        {
            ["token_dim"] = a.NumHeads * a.HeadDim,
            ["num_layers"] = model.NamedModules().Count(m => m.Value is BertSelfAttention),
            ["num_attention_heads"] = a.NumHeads,
        };
        foreach (var (field, value) in actual)
            if (o[field] is { } n && !(n is JsonValue v && v.TryGetValue<int>(out int i) && i == value))
                throw new InvalidDataException($"{source}: field '{field}' is {n.ToJsonString()}, but the model has {value}");
    }

    /// <summary>The adapter's tensors by PEFT key, in PEFT's shapes (new tensors; the caller disposes them).</summary>
    internal static Dictionary<string, Tensor> ToFile(PeftConfig config, Module model, IEnumerable<KeyValuePair<string, Parameter>> owned)
    {
        var file = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using var noGrad = GradMode.NoGrad();
        using var scope = TensorScope.Begin();
        foreach (var (path, p) in owned)
        {
            var (key, shape) = KeyOf(config, model, path, p);
            if (key == PromptEmbeddings && config is PrefixTuningConfig)
            {
                // The projected keys and values, computed once from the encoder (PEFT's get_prompt_embedding_to_save).
                if (file.ContainsKey(key)) continue;
                var encoder = (PrefixEncoder)model.GetSubmodule(PrefixTuningMethod.EncoderName);
                file[key] = Named(key, encoder.Table().Detach().Contiguous().Keep());
                continue;
            }
            file[key] = Named(key, p.Value.Detach().Reshape(shape).Keep());
        }
        return file;
    }

    /// <summary>
    /// The file's tensors under the model's parameter paths, reshaped to the model's shapes (views: call inside a
    /// <see cref="TensorScope"/>). A key that matches no parameter of
    /// the adapter, a missing one or a wrong shape is an error naming the file and every such key.
    /// </summary>
    internal static Dictionary<string, Tensor> FromFile(PeftConfig config, Module model, IReadOnlyDictionary<string, Parameter> expected,
        IReadOnlyDictionary<string, Tensor> file, string source)
    {
        if (config is PrefixTuningConfig && file.ContainsKey(PromptEmbeddings) &&
            model.GetSubmodule(PrefixTuningMethod.EncoderName) is PrefixEncoder { Projection: true } encoder)
        {
            // PEFT keeps only the projected prefixes; like PEFT in inference mode, the projection gives way to them.
            encoder.DropProjection();
            expected = model.NamedParameters().Where(p => expected.ContainsKey(p.Key)
                || p.Key.StartsWith(PrefixTuningMethod.EncoderName + ".", StringComparison.Ordinal))
                .ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        }
        var byKey = new Dictionary<string, (string Path, Parameter Parameter, int[] Shape)>(StringComparer.Ordinal);
        foreach (var (path, p) in expected)
        {
            var (key, shape) = KeyOf(config, model, path, p);
            byKey[key] = (path, p, shape);
        }
        // Unexpected keys first: a file that loads into no module is the failure PEFT's strict=False loading would hide.
        var problems = new List<string>();
        var unexpected = file.Keys.Where(k => !byKey.ContainsKey(k)).ToList();
        if (unexpected.Count > 0 && unexpected.All(k => !k.StartsWith(PromptLearningPrefix, StringComparison.Ordinal)
            && k != PromptEmbeddings))
            problems.Add($"keys must follow PEFT's layout ('{ModelPrefix}<module path>…' or '{PromptEmbeddings}')");
        foreach (var k in unexpected) problems.Add($"unexpected tensor '{k}' (matches no parameter of this adapter on this model)");
        foreach (var (key, (path, p, shape)) in byKey)
        {
            if (!file.TryGetValue(key, out var t)) problems.Add($"missing tensor '{key}' {Describe(shape)} (for {path})");
            else if (!t.Shape.SequenceEqual(shape)) problems.Add($"tensor '{key}' has shape {t.Describe()} in the file, but the model " +
                $"expects {Describe(shape)}");
        }
        if (problems.Count > 0)
        {
            var shown = problems.Take(4).Concat(problems.Skip(4).Where(m => m.StartsWith("missing", StringComparison.Ordinal)).Take(1))
                .ToList();
            var more = problems.Count > shown.Count ? $"; and {problems.Count - shown.Count} more" : "";
            throw new InvalidDataException($"{source}: cannot load the adapter: {string.Join("; ", shown)}{more}");
        }
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (key, (path, p, _)) in byKey) state[path] = file[key].Reshape(p.Value.Shape.ToArray());
        return state;
    }

    /// <summary>PEFT's key and shape for the parameter at <paramref name="path"/>.</summary>
    private static (string Key, int[] Shape) KeyOf(PeftConfig config, Module model, string path, Parameter p)
    {
        var shape = p.Value.Shape.ToArray();
        if (config is PrefixTuningConfig && path.StartsWith(PrefixTuningMethod.EncoderName + ".", StringComparison.Ordinal))
        {
            var encoder = (PrefixEncoder)model.GetSubmodule(PrefixTuningMethod.EncoderName);
            return (PromptEmbeddings, new[] { encoder.Length, encoder.Layers * 2 * encoder.Hidden });
        }
        if (config is PromptTuningConfig && Parent(model, path) is PromptEmbedding { Depth: 1 })
            return (PromptEmbeddings, shape);
        if (IsPromptLearning(config)) return (PromptLearningPrefix + path, shape);
        if (Parent(model, path) is Ia3Linear ia3 && path.EndsWith(".ia3_l", StringComparison.Ordinal))
            return (ModelPrefix + path, ia3.IsFeedforward ? new[] { 1, shape[0] } : new[] { shape[0], 1 });
        return (ModelPrefix + path, shape);
    }

    private static Module? Parent(Module model, string path)
    {
        int dot = path.LastIndexOf('.');
        return dot < 0 ? model : model.GetSubmodule(path[..dot]);
    }

    private static BertSelfAttention? Attention(Module model) =>
        model.NamedModules().Select(m => m.Value).OfType<BertSelfAttention>().FirstOrDefault();

    private static Tensor Named(string name, Tensor t)
    {
        t.Name = name;
        return t;
    }

    private static string Describe(int[] shape) => "[" + string.Join(", ", shape) + "]";
}
