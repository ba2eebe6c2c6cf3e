using System.Text.Json;
using System.Text.Json.Nodes;

namespace Finetune.Nn;

/// <summary>The shape of a BERT encoder, with Hugging Face <c>config.json</c> names on disk.</summary>
public sealed record BertConfig
{
    public int VocabSize { get; init; } = 30522;
    public int HiddenSize { get; init; } = 768;
    public int NumLayers { get; init; } = 12;
    public int NumHeads { get; init; } = 12;
    public int IntermediateSize { get; init; } = 3072;
    public int MaxPositions { get; init; } = 512;
    public int TypeVocabSize { get; init; } = 2;
    public float HiddenDropout { get; init; } = 0.1f;
    public float AttentionDropout { get; init; } = 0.1f;
    public float LayerNormEps { get; init; } = 1e-12f;

    /// <summary>"gelu" (erf) or "gelu_new"/"gelu_pytorch_tanh" (tanh approximation).</summary>
    public string HiddenAct { get; init; } = "gelu";

    /// <summary>Layer norm before each sublayer (ViT style) instead of after the residual sum (BERT).</summary>
    public bool PreLayerNorm { get; init; }

    /// <summary>Std of the normal init of weights and embeddings (BERT: 0.02).</summary>
    public float InitializerRange { get; init; } = 0.02f;

    /// <summary>sentence-transformers/all-MiniLM-L6-v2.</summary>
    public static BertConfig MiniLmL6 => new()
    {
        HiddenSize = 384, NumLayers = 6, NumHeads = 12, IntermediateSize = 1536,
    };

    public int HeadDim => HiddenSize / NumHeads;

    public void Validate()
    {
        if (VocabSize <= 0 || HiddenSize <= 0 || NumLayers < 0 || NumHeads <= 0 || IntermediateSize <= 0 || MaxPositions <= 0
            || TypeVocabSize <= 0)
            throw new ArgumentException($"bert config: sizes must be positive: {this}");
        if (HiddenSize % NumHeads != 0)
            throw new ArgumentException($"bert config: hidden size {HiddenSize} is not divisible by {NumHeads} heads");
        if (HiddenAct is not ("gelu" or "gelu_new" or "gelu_pytorch_tanh"))
            throw new ArgumentException($"bert config: unsupported hidden_act '{HiddenAct}' (gelu, gelu_new, gelu_pytorch_tanh)");
    }

    public string ToJson()
    {
        var o = new JsonObject
        {
            ["architectures"] = new JsonArray("BertModel"),
            ["model_type"] = "bert",
            ["vocab_size"] = VocabSize,
            ["hidden_size"] = HiddenSize,
            ["num_hidden_layers"] = NumLayers,
            ["num_attention_heads"] = NumHeads,
            ["intermediate_size"] = IntermediateSize,
            ["max_position_embeddings"] = MaxPositions,
            ["type_vocab_size"] = TypeVocabSize,
            ["hidden_dropout_prob"] = HiddenDropout,
            ["attention_probs_dropout_prob"] = AttentionDropout,
            ["layer_norm_eps"] = LayerNormEps,
            ["hidden_act"] = HiddenAct,
            ["initializer_range"] = InitializerRange,
            ["pre_layer_norm"] = PreLayerNorm,
        };
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Reads a Hugging Face BERT config.json; missing keys keep their defaults.</summary>
    public static BertConfig FromJson(string json, string source = "config.json")
    {
        JsonObject o;
        try
        {
            o = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException($"{source}: the top level is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: not valid JSON: {e.Message}", e);
        }
        var d = new BertConfig();
        var c = d with
        {
            VocabSize = Int(o, "vocab_size", d.VocabSize, source),
            HiddenSize = Int(o, "hidden_size", d.HiddenSize, source),
            NumLayers = Int(o, "num_hidden_layers", d.NumLayers, source),
            NumHeads = Int(o, "num_attention_heads", d.NumHeads, source),
            IntermediateSize = Int(o, "intermediate_size", d.IntermediateSize, source),
            MaxPositions = Int(o, "max_position_embeddings", d.MaxPositions, source),
            TypeVocabSize = Int(o, "type_vocab_size", d.TypeVocabSize, source),
            HiddenDropout = Float(o, "hidden_dropout_prob", d.HiddenDropout, source),
            AttentionDropout = Float(o, "attention_probs_dropout_prob", d.AttentionDropout, source),
            LayerNormEps = Float(o, "layer_norm_eps", d.LayerNormEps, source),
            InitializerRange = Float(o, "initializer_range", d.InitializerRange, source),
            HiddenAct = o["hidden_act"]?.GetValue<string>() ?? d.HiddenAct,
            PreLayerNorm = o["pre_layer_norm"]?.GetValue<bool>() ?? false,
        };
        if (o["model_type"]?.GetValue<string>() is { } type && type != "bert")
            throw new InvalidDataException($"{source}: field 'model_type' is '{type}', expected 'bert'");
        try
        {
            c.Validate();
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }
        return c;
    }

    private static int Int(JsonObject o, string key, int fallback, string source)
    {
        var n = o[key];
        if (n is null) return fallback;
        try
        {
            return n.GetValue<int>();
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{source}: field '{key}' must be an integer, got {n.ToJsonString()}", e);
        }
    }

    private static float Float(JsonObject o, string key, float fallback, string source)
    {
        var n = o[key];
        if (n is null) return fallback;
        try
        {
            return (float)n.GetValue<double>();
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{source}: field '{key}' must be a number, got {n.ToJsonString()}", e);
        }
    }
}
