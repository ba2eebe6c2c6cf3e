using System.Text.Json;
using System.Text.Json.Nodes;
using Finetune.Nn.IO;

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
    public int Grid => PatchSize > 0 ? ImageSize / PatchSize : 0;

    public int NumPatches => Grid * Grid;

    /// <summary>Pixel values per patch (the patch projection's input).</summary>
    public int PatchDim => Channels * PatchSize * PatchSize;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first field (config.json name) out of range and its value.</summary>
    public void Validate()
    {
        static void Range(string field, long value, long min, long max)
        {
            if (value < min || value > max)
                throw new ArgumentException($"vit config: field '{field}' is {value}, expected an integer in [{min}, {max}]");
        }
        Range("image_size", ImageSize, 1, MaxImage);
        Range("patch_size", PatchSize, 1, ImageSize);
        Range("num_channels", Channels, 1, 64);
        Range("hidden_size", HiddenSize, 1, BertConfig.MaxWidth);
        Range("num_hidden_layers", NumLayers, 0, BertConfig.MaxLayers);
        Range("num_attention_heads", NumHeads, 1, HiddenSize);
        Range("intermediate_size", IntermediateSize, 1, BertConfig.MaxWidth * 8);
        if (ImageSize % PatchSize != 0)
            throw new ArgumentException($"vit config: field 'image_size' is {ImageSize}, expected a multiple of patch_size ({PatchSize})");
        if (HiddenSize % NumHeads != 0)
            throw new ArgumentException(
                $"vit config: field 'hidden_size' is {HiddenSize}, expected a multiple of num_attention_heads ({NumHeads})");
        BertConfig.CheckProbability("hidden_dropout_prob", HiddenDropout);
        BertConfig.CheckProbability("attention_probs_dropout_prob", AttentionDropout);
        if (!(LayerNormEps > 0 && LayerNormEps <= 1))
            throw new ArgumentException($"vit config: field 'layer_norm_eps' is {LayerNormEps}, expected a number in (0, 1]");
        if (!(InitializerRange >= 0 && InitializerRange <= 10))
            throw new ArgumentException($"vit config: field 'initializer_range' is {InitializerRange}, expected a number in [0, 10]");
    }

    private const int MaxImage = 4096;

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
    public static VitConfig FromJson(string json, string source = "config.json") => FromJson(JsonFields.Parse(json, source));

    /// <summary>Reads a parsed config.json; every error names the file, the field, its value and the expected range.</summary>
    public static VitConfig FromJson(JsonFields f)
    {
        if (f.String("model_type", optional: true) is { } type && type != "vit")
            throw f.Error("model_type", f.Object["model_type"], "'vit'");
        var d = new VitConfig();
        var c = new VitConfig
        {
            ImageSize = f.Int("image_size", 1, MaxImage, d.ImageSize),
            PatchSize = f.Int("patch_size", 1, MaxImage, d.PatchSize),
            Channels = f.Int("num_channels", 1, 64, d.Channels),
            HiddenSize = f.Int("hidden_size", 1, BertConfig.MaxWidth, d.HiddenSize),
            NumLayers = f.Int("num_hidden_layers", 0, BertConfig.MaxLayers, d.NumLayers),
            NumHeads = f.Int("num_attention_heads", 1, BertConfig.MaxWidth, d.NumHeads),
            IntermediateSize = f.Int("intermediate_size", 1, BertConfig.MaxWidth * 8, d.IntermediateSize),
            HiddenDropout = f.Float("hidden_dropout_prob", 0, 0.999f, d.HiddenDropout),
            AttentionDropout = f.Float("attention_probs_dropout_prob", 0, 0.999f, d.AttentionDropout),
            LayerNormEps = f.Float("layer_norm_eps", 0, 1, d.LayerNormEps, minExclusive: true),
            InitializerRange = f.Float("initializer_range", 0, 10, d.InitializerRange),
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
