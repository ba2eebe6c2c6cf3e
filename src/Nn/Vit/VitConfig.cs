using System.Text.Json;
using System.Text.Json.Nodes;

namespace Finetune.Nn;

/// <summary>The shape of a Vision Transformer, with Hugging Face ViT <c>config.json</c> names on disk.</summary>
public sealed record VitConfig
{
    public int ImageSize { get; init; } = 28;
    public int PatchSize { get; init; } = 7;
    public int Channels { get; init; } = 1;
    public int HiddenSize { get; init; } = 64;
    public int NumLayers { get; init; } = 4;
    public int NumHeads { get; init; } = 4;
    public int IntermediateSize { get; init; } = 128;
    public float HiddenDropout { get; init; }
    public float AttentionDropout { get; init; }
    public float LayerNormEps { get; init; } = 1e-6f;
    public float InitializerRange { get; init; } = 0.02f;

    /// <summary>Patches per side.</summary>
    public int Grid => ImageSize / PatchSize;

    public int NumPatches => Grid * Grid;

    /// <summary>Pixel values per patch (the patch projection's input).</summary>
    public int PatchDim => Channels * PatchSize * PatchSize;

    public void Validate()
    {
        if (ImageSize <= 0 || PatchSize <= 0 || Channels <= 0 || HiddenSize <= 0 || NumLayers < 0 || NumHeads <= 0 || IntermediateSize <= 0)
            throw new ArgumentException($"vit config: sizes must be positive: {this}");
        if (ImageSize % PatchSize != 0)
            throw new ArgumentException($"vit config: image size {ImageSize} is not divisible by patch size {PatchSize}");
        if (HiddenSize % NumHeads != 0)
            throw new ArgumentException($"vit config: hidden size {HiddenSize} is not divisible by {NumHeads} heads");
    }

    /// <summary>The encoder layers are BERT layers with layer norm before each sublayer.</summary>
    public BertConfig Encoder => new()
    {
        VocabSize = 1, HiddenSize = HiddenSize, NumLayers = NumLayers, NumHeads = NumHeads, IntermediateSize = IntermediateSize,
        MaxPositions = NumPatches + 1, TypeVocabSize = 1, HiddenDropout = HiddenDropout, AttentionDropout = AttentionDropout,
        LayerNormEps = LayerNormEps, HiddenAct = "gelu", PreLayerNorm = true, InitializerRange = InitializerRange,
    };

    public string ToJson() => new JsonObject
    {
        ["architectures"] = new JsonArray("ViTForImageClassification"),
        ["model_type"] = "vit",
        ["image_size"] = ImageSize,
        ["patch_size"] = PatchSize,
        ["num_channels"] = Channels,
        ["hidden_size"] = HiddenSize,
        ["num_hidden_layers"] = NumLayers,
        ["num_attention_heads"] = NumHeads,
        ["intermediate_size"] = IntermediateSize,
        ["hidden_dropout_prob"] = HiddenDropout,
        ["attention_probs_dropout_prob"] = AttentionDropout,
        ["layer_norm_eps"] = LayerNormEps,
        ["initializer_range"] = InitializerRange,
    }.ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    /// <summary>Reads a ViT config.json; missing keys keep their defaults, a wrong one is named.</summary>
    public static VitConfig FromJson(string json, string source = "config.json")
    {
        try
        {
            var o = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException($"{source}: the top level is not a JSON object");
            if (o["model_type"]?.GetValue<string>() is { } type && type != "vit")
                throw new InvalidDataException($"{source}: field 'model_type' is '{type}', expected 'vit'");
            var d = new VitConfig();
            int Int(string key, int fallback) => Field(o, key, n => n.GetValue<int>(), fallback, source);
            float Float(string key, float fallback) => Field(o, key, n => (float)n.GetValue<double>(), fallback, source);
            var c = new VitConfig
            {
                ImageSize = Int("image_size", d.ImageSize),
                PatchSize = Int("patch_size", d.PatchSize),
                Channels = Int("num_channels", d.Channels),
                HiddenSize = Int("hidden_size", d.HiddenSize),
                NumLayers = Int("num_hidden_layers", d.NumLayers),
                NumHeads = Int("num_attention_heads", d.NumHeads),
                IntermediateSize = Int("intermediate_size", d.IntermediateSize),
                HiddenDropout = Float("hidden_dropout_prob", d.HiddenDropout),
                AttentionDropout = Float("attention_probs_dropout_prob", d.AttentionDropout),
                LayerNormEps = Float("layer_norm_eps", d.LayerNormEps),
                InitializerRange = Float("initializer_range", d.InitializerRange),
            };
            c.Validate();
            return c;
        }
        catch (Exception e) when (e is JsonException or ArgumentException)
        {
            throw new InvalidDataException($"{source}: {e.Message}", e);
        }
    }

    private static T Field<T>(JsonObject o, string key, Func<JsonNode, T> read, T fallback, string source)
    {
        var n = o[key];
        if (n is null) return fallback;
        try
        {
            return read(n);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{source}: field '{key}' has the wrong type: {n.ToJsonString()}", e);
        }
    }
}
