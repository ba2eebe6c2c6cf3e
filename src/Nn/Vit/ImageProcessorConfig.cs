using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Finetune.Nn.Data;
using Finetune.Nn.Training;

namespace Finetune.Nn;

/// <summary>
/// How images become a ViT's pixel values (Hugging Face's <c>preprocessor_config.json</c> of a ViTImageProcessor):
/// resized to <see cref="Size"/>², scaled to [0, 1], then (x − mean) / std per channel.
/// </summary>
public sealed record ImageProcessorConfig
{
    public const string FileName = "preprocessor_config.json";

    public int Size { get; init; } = 224;
    public int Channels { get; init; } = 3;
    public IReadOnlyList<float> Mean { get; init; } = new[] { 0.5f, 0.5f, 0.5f };
    public IReadOnlyList<float> Std { get; init; } = new[] { 0.5f, 0.5f, 0.5f };

    /// <summary>Hugging Face's ViTImageProcessor defaults (mean and std 0.5) at the model's size and channels.</summary>
    public static ImageProcessorConfig Default(VitConfig model) => new()
    {
        Size = model.ImageSize,
        Channels = model.Channels,
        Mean = Enumerable.Repeat(0.5f, model.Channels).ToArray(),
        Std = Enumerable.Repeat(0.5f, model.Channels).ToArray(),
    };

    public void Validate()
    {
        if (Size < 1 || Size > 4096) throw new ArgumentException($"image processor: size {Size} is outside 1…4096");
        if (Channels is not (1 or 3)) throw new ArgumentException(
            $"image processor: {Channels} channels; 1 (grey) or 3 (RGB) are supported");
        if (Mean.Count != Channels || Std.Count != Channels)
            throw new ArgumentException(
                $"image processor: image_mean has {Mean.Count} and image_std {Std.Count} values for {Channels} channels");
        if (Std.Any(s => !(s > 0) || !float.IsFinite(s)) || Mean.Any(m => !float.IsFinite(m)))
            throw new ArgumentException(
                "image processor: image_std must be positive and finite and image_mean finite, "
                + $"got [{string.Join(", ", Std)}] and [{string.Join(", ", Mean)}]");
    }

    /// <summary>Images (CHW bytes at <see cref="Size"/>) as normalised float32 [B, C, S, S], and their int32 labels.</summary>
    public Batch Collate(IReadOnlyList<LabeledImage> images, Kernels.Device? device = null)
    {
        int plane = Size * Size, size = Channels * plane;
        var pixels = new float[images.Count * size];
        for (int i = 0; i < images.Count; i++)
        {
            if (images[i].Pixels.Length != size)
                throw new ArgumentException(
                    $"image processor: image {i} has {images[i].Pixels.Length} bytes, expected {Channels}×{Size}×{Size} = {size}");
            for (int j = 0; j < size; j++)
            {
                int c = j / plane;
                pixels[i * size + j] = (images[i].Pixels[j] / 255f - Mean[c]) / Std[c];
            }
        }
        return new Batch(
            new Dictionary<string, Tensor> { ["pixel_values"] = Tensor.FromArray(pixels, new[] { images.Count, Channels, Size, Size },
                device) },
            Tensor.FromArray(images.Select(x => x.Label).ToArray(), new[] { images.Count }, device));
    }

    public string ToJson() => new JsonObject
    {
        ["image_processor_type"] = "ViTImageProcessor",
        ["do_resize"] = true,
        ["size"] = new JsonObject { ["height"] = Size, ["width"] = Size },
        ["resample"] = 2,
        ["do_rescale"] = true,
        ["rescale_factor"] = 1.0 / 255,
        ["do_normalize"] = true,
        ["image_mean"] = new JsonArray(Mean.Select(m => (JsonNode)(double)m).ToArray()),
        ["image_std"] = new JsonArray(Std.Select(s => (JsonNode)(double)s).ToArray()),
    }.ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    /// <summary>The folder's preprocessor_config.json, or <see cref="Default"/> when it has none.</summary>
    public static ImageProcessorConfig Load(string directory, VitConfig model)
    {
        var path = Path.Combine(directory, FileName);
        return File.Exists(path) ? FromJson(File.ReadAllText(path), model, path) : Default(model);
    }

    /// <summary>Reads mean, std and size; the size must be the model's image size (the patch grid is fixed).</summary>
    public static ImageProcessorConfig FromJson(string json, VitConfig model, string source = FileName)
    {
        try
        {
            var o = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException($"{source}: the top level is not a JSON object");
            var d = Default(model);
            int size = o["size"] switch
            {
                null => d.Size,
                JsonObject s => s["height"]?.GetValue<int>() is { } h && s["width"]?.GetValue<int>() is { } w && h == w
                    ? h : throw new InvalidDataException(
                        $"{source}: field 'size' must have equal height and width, got {s.ToJsonString()}"),
                var s => s.GetValue<int>(),
            };
            if (size != model.ImageSize)
                throw new InvalidDataException($"{source}: field 'size' is {size}, but the model's image_size is {model.ImageSize}");
            var c = new ImageProcessorConfig
            {
                Size = size,
                Channels = model.Channels,
                Mean = o["image_mean"] is JsonArray m ? Floats(m, "image_mean") : d.Mean,
                Std = o["image_std"] is JsonArray s2 ? Floats(s2, "image_std") : d.Std,
            };
            c.Validate();
            return c;

            float[] Floats(JsonArray values, string key) => values
                .Select(v => v is null ? throw new InvalidDataException($"{source}: field '{key}' holds a null") : (
                    float)v.GetValue<double>())
                .ToArray();
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"{source}: {e.Message}"), e);
        }
    }
}
