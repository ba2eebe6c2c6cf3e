using System.Text.Json;
using System.Text.Json.Nodes;
using Finetune.Nn.IO;

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

    /// <summary>Hidden size per head (0 while <see cref="NumHeads"/> is invalid, so printing the record never throws).</summary>
    public int HeadDim => NumHeads > 0 ? HiddenSize / NumHeads : 0;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first field (config.json name) out of range and its value.</summary>
    public void Validate()
    {
        static void Range(string field, long value, long min, long max)
        {
            if (value < min || value > max)
                throw new ArgumentException($"bert config: field '{field}' is {value}, expected an integer in [{min}, {max}]");
        }
        Range("vocab_size", VocabSize, 1, MaxVocab);
        Range("hidden_size", HiddenSize, 1, MaxWidth);
        Range("num_hidden_layers", NumLayers, 0, MaxLayers);
        Range("num_attention_heads", NumHeads, 1, HiddenSize);
        Range("intermediate_size", IntermediateSize, 1, MaxWidth * 8);
        Range("max_position_embeddings", MaxPositions, 1, MaxWidth);
        Range("type_vocab_size", TypeVocabSize, 1, MaxWidth);
        if (HiddenSize % NumHeads != 0)
            throw new ArgumentException(
                $"bert config: field 'hidden_size' is {HiddenSize}, expected a multiple of num_attention_heads ({NumHeads})");
        CheckProbability("hidden_dropout_prob", HiddenDropout);
        CheckProbability("attention_probs_dropout_prob", AttentionDropout);
        if (!(LayerNormEps > 0 && LayerNormEps <= 1))
            throw new ArgumentException($"bert config: field 'layer_norm_eps' is {LayerNormEps}, expected a number in (0, 1]");
        if (!(InitializerRange >= 0 && InitializerRange <= 10))
            throw new ArgumentException($"bert config: field 'initializer_range' is {InitializerRange}, expected a number in [0, 10]");
        if (HiddenAct is not ("gelu" or "gelu_new" or "gelu_pytorch_tanh"))
            throw new ArgumentException($"bert config: field 'hidden_act' is '{HiddenAct}', expected gelu, gelu_new or gelu_pytorch_tanh");
    }

    /// <summary>Bounds far above any BERT or ViT, low enough that a hostile config cannot ask for terabytes.</summary>
    public const int MaxVocab = 10_000_000, MaxWidth = 65_536, MaxLayers = 1_000;

    internal static void CheckProbability(string field, float p)
    {
        if (!(p >= 0 && p < 1)) throw new ArgumentException($"config: field '{field}' is {p}, expected a probability in [0, 1)");
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
    public static BertConfig FromJson(string json, string source = "config.json") => FromJson(JsonFields.Parse(json, source));

    /// <summary>Reads a parsed config.json; every error names the file, the field, its value and the expected range.</summary>
    public static BertConfig FromJson(JsonFields f)
    {
        if (f.String("model_type", optional: true) is { } type && type != "bert")
            throw f.Error("model_type", f.Object["model_type"], "'bert'");
        var d = new BertConfig();
        var c = d with
        {
            VocabSize = f.Int("vocab_size", 1, MaxVocab, d.VocabSize),
            HiddenSize = f.Int("hidden_size", 1, MaxWidth, d.HiddenSize),
            NumLayers = f.Int("num_hidden_layers", 0, MaxLayers, d.NumLayers),
            NumHeads = f.Int("num_attention_heads", 1, MaxWidth, d.NumHeads),
            IntermediateSize = f.Int("intermediate_size", 1, MaxWidth * 8, d.IntermediateSize),
            MaxPositions = f.Int("max_position_embeddings", 1, MaxWidth, d.MaxPositions),
            TypeVocabSize = f.Int("type_vocab_size", 1, MaxWidth, d.TypeVocabSize),
            HiddenDropout = f.Float("hidden_dropout_prob", 0, 0.999f, d.HiddenDropout),
            AttentionDropout = f.Float("attention_probs_dropout_prob", 0, 0.999f, d.AttentionDropout),
            LayerNormEps = f.Float("layer_norm_eps", 0, 1, d.LayerNormEps, minExclusive: true),
            InitializerRange = f.Float("initializer_range", 0, 10, d.InitializerRange),
            HiddenAct = f.Choice("hidden_act", d.HiddenAct, "gelu", "gelu_new", "gelu_pytorch_tanh"),
            PreLayerNorm = f.Bool("pre_layer_norm", false),
        };
        try
        {
            c.Validate();
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{f.Source}: {ErrorText.OneLine(e)}", e);
        }
        return c;
    }
}
