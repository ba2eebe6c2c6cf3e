using SkiaSharp;

namespace Finetune.Nn.Data;

/// <summary>
/// Decodes an image file (PNG, JPEG, BMP, GIF, WebP: SkiaSharp) and resizes it bilinearly to the processor's square
/// size, as grey (ITU-R 601 luma, as PIL's "L") or RGB bytes in CHW order. Sizes are checked before decoding.
/// </summary>
public static class ImageDecoder
{
    /// <summary>Images larger than this many pixels are refused before decoding (a crafted header cannot ask for gigabytes).</summary>
    public const long MaxPixels = 64L * 1024 * 1024;

    /// <summary>The one entry point: <paramref name="bytes"/> of an image file → CHW bytes; <paramref name="source"/> names it in
    /// errors.</summary>
    public static byte[] Decode(byte[] bytes, string source, ImageProcessorConfig processor)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ArgumentNullException.ThrowIfNull(processor);
        if (bytes.Length == 0) throw new DataFileException(source, null, null, "cannot decode the image: the file is empty");
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data)
            ?? throw new DataFileException(source, null, null, "cannot decode the image: not a PNG, JPEG, BMP, GIF or WebP file");
        var info = codec.Info;
        if (info.Width < 1 || info.Height < 1 || (long)info.Width * info.Height > MaxPixels)
            throw new DataFileException(source, null, null,
                $"cannot decode the image: {info.Width}×{info.Height} pixels (at most {MaxPixels:N0})");
        using var full = new SKBitmap(new SKImageInfo(info.Width, info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        var result = codec.GetPixels(full.Info, full.GetPixels());
        if (result is not (SKCodecResult.Success or SKCodecResult.IncompleteInput))
            throw new DataFileException(source, null, null, $"cannot decode the image: {result}");
        if (result == SKCodecResult.IncompleteInput)
            throw new DataFileException(source, null, null, "cannot decode the image: the file is truncated");
        int size = processor.Size;
        using var resized = full.Resize(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Unpremul), new SKSamplingOptions(
            SKFilterMode.Linear))
            ?? throw new DataFileException(source, null, null, $"cannot resize the image to {size}×{size}");
        var rgba = resized.GetPixelSpan();
        int plane = size * size;
        var chw = new byte[processor.Channels * plane];
        for (int p = 0; p < plane; p++)
        {
            byte r = rgba[4 * p], g = rgba[4 * p + 1], b = rgba[4 * p + 2];
            if (processor.Channels == 1) chw[p] = (byte)((r * 299 + g * 587 + b * 114) / 1000);
            else
            {
                chw[p] = r;
                chw[plane + p] = g;
                chw[2 * plane + p] = b;
            }
        }
        return chw;
    }
}
