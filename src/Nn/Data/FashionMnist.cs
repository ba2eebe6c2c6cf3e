using System.Buffers.Binary;
using System.IO.Compression;
using Finetune.Nn.Training;

namespace Finetune.Nn.Data;

/// <summary>
/// Fashion-MNIST from Debian's <c>dataset-fashion-mnist</c> package: IDX files (gzipped or not) in
/// /usr/share/datasets/fashion-mnist, 60,000 training and 10,000 test images of 10 clothing classes.
/// </summary>
public static class FashionMnist
{
    public const string DebianPackage = "dataset-fashion-mnist";
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";
    public const int Side = 28;

    public static readonly IReadOnlyList<string> ClassNames = new[]
    {
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    };

    /// <summary>$FINETUNE_FASHION_MNIST, else the Debian package's directory.</summary>
    public static string Directory() =>
        Environment.GetEnvironmentVariable("FINETUNE_FASHION_MNIST") is { Length: > 0 } env ? env : DefaultDirectory;

    /// <summary>The "train" (60,000) or "t10k" (10,000) split.</summary>
    public static List<LabeledImage> Load(string split, string? directory = null)
    {
        if (split is not ("train" or "t10k")) throw new ArgumentException($"fashion-mnist: split must be 'train' or 't10k', got '{split}'");
        var dir = directory ?? Directory();
        var images = ReadIdx(Locate(dir, $"{split}-images-idx3-ubyte"), 3);
        var labels = ReadIdx(Locate(dir, $"{split}-labels-idx1-ubyte"), 1);
        if (images.Dims[0] != labels.Dims[0])
            throw new InvalidDataException($"fashion-mnist: {split} has {images.Dims[0]} images but {labels.Dims[0]} labels");
        if (images.Dims[1] != Side || images.Dims[2] != Side)
            throw new InvalidDataException($"fashion-mnist: {split} images are {images.Dims[1]}×{images.Dims[2]}, "
                + $"expected {Side}×{Side}");
        int n = images.Dims[0], size = Side * Side;
        var result = new List<LabeledImage>(n);
        for (int i = 0; i < n; i++)
        {
            int label = labels.Data[i];
            if (label > 9) throw new InvalidDataException($"fashion-mnist: {split} label {i} is {label}, expected 0–9");
            result.Add(new LabeledImage(images.Data.AsSpan(i * size, size).ToArray(), label));
        }
        return result;
    }

    private static string Locate(string dir, string name)
    {
        foreach (var candidate in new[] { Path.Combine(dir, name + ".gz"), Path.Combine(dir, name) })
            if (File.Exists(candidate)) return candidate;
        throw new FileNotFoundException(
            $"fashion-mnist: {name}(.gz) is not in {dir}. Install Debian's '{DebianPackage}' package (apt-get install {DebianPackage}) " +
            "or point FINETUNE_FASHION_MNIST at a directory holding the IDX files.", Path.Combine(dir, name + ".gz"));
    }

    /// <summary>Reads an unsigned-byte IDX file: magic 0x0000080N, N big-endian int32 dims, then the bytes; every size is checked
    /// first.</summary>
    public static (int[] Dims, byte[] Data) ReadIdx(string path, int expectedRank)
    {
        byte[] raw;
        using (var file = File.OpenRead(path))
        using (var buffer = new MemoryStream())
        {
            if (path.EndsWith(".gz", StringComparison.Ordinal))
            {
                using var gz = new GZipStream(file, CompressionMode.Decompress);
                gz.CopyTo(buffer);
            }
            else file.CopyTo(buffer);
            raw = buffer.ToArray();
        }
        if (raw.Length < 4) throw new InvalidDataException($"{path}: {raw.Length} bytes is too short for an IDX header");
        if (raw[0] != 0 || raw[1] != 0 || raw[2] != 0x08)
            throw new InvalidDataException($"{path}: magic {raw[0]:X2}{raw[1]:X2}{raw[2]:X2}{raw[3]:X2} is not an "
                + "unsigned-byte IDX file (0000080N)");
        int rank = raw[3];
        if (rank != expectedRank) throw new InvalidDataException($"{path}: has {rank} dimensions, expected {expectedRank}");
        if (raw.Length < 4 + 4 * rank) throw new InvalidDataException($"{path}: the header of {rank} dimensions is truncated");
        var dims = new int[rank];
        long count = 1;
        for (int d = 0; d < rank; d++)
        {
            dims[d] = BinaryPrimitives.ReadInt32BigEndian(raw.AsSpan(4 + 4 * d));
            if (dims[d] <= 0) throw new InvalidDataException($"{path}: dimension {d} is {dims[d]}");
            count *= dims[d];
        }
        int offset = 4 + 4 * rank;
        if (raw.Length - offset != count)
            throw new InvalidDataException($"{path}: the header promises {count} bytes of data, the file holds {raw.Length - offset}");
        return (dims, raw.AsSpan(offset).ToArray());
    }

    /// <summary>
    /// The images of <paramref name="classes"/>, relabelled 0…k−1 in the order given (so one head fits either half of the classes).
    /// </summary>
    public static List<LabeledImage> Subset(IEnumerable<LabeledImage> images, IReadOnlyList<int> classes)
    {
        var map = new Dictionary<int, int>();
        for (int i = 0; i < classes.Count; i++) map[classes[i]] = i;
        return images.Where(x => map.ContainsKey(x.Label)).Select(x => x with { Label = map[x.Label] }).ToList();
    }

    /// <summary>28×28 grey, centred with Fashion-MNIST's own mean and std (what the pretrained ViT saw).</summary>
    public static readonly ImageProcessorConfig Processor = new() { Size = Side, Channels = 1, Mean = new[] { 0.2860f },
        Std = new[] { 0.3530f } };

    /// <summary>Pixels scaled to [0, 1] and centred with Fashion-MNIST's mean and std, as [B, 1, 28, 28], and int32 labels.</summary>
    public static Batch Collate(IReadOnlyList<LabeledImage> images, Kernels.Device? device = null) => Processor.Collate(images, device);
}
