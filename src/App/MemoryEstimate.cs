using System.Globalization;
using Finetune.Nn;

namespace Finetune.App;

/// <summary>
/// What a training run will hold at its peak, estimated before the first step from the model's shape, the batch, the
/// sequence length and the method's trainable parameters: weights, gradients and optimizer state (AdamW: two slots),
/// and the activations the backward pass keeps (every layer, attention scores included), plus the runtime's own base.
/// Calibrated on the MiniLM table of docs/BENCHMARKS.md (batch 16 × 128 tokens: 1.6-2.0 GiB measured peaks).
/// </summary>
public sealed record MemoryEstimate(long WeightBytes, long TrainingStateBytes, long ActivationBytes, long BaseBytes)
{
    /// <summary>The .NET runtime, the tokenizer and the caching allocator's slack.</summary>
    public const long RuntimeBaseBytes = 300L << 20;

    public long TotalBytes => WeightBytes + TrainingStateBytes + ActivationBytes + BaseBytes;

    /// <param name="tokens">Tokens (or patches) per example, special tokens and virtual tokens included.</param>
    public static MemoryEstimate ForTraining(BertConfig config, long totalParameters, long trainableParameters, int batch, int tokens)
    {
        ArgumentNullException.ThrowIfNull(config);
        // Floats kept per token and layer: projections, norms, residuals and dropout masks (~24·H), the feed-forward
        // input and GELU output (~4·I); per head, scores, softmax and its mask (~5·T²). Checked arithmetic: a hostile
        // batch or length must not wrap to a small number.
        checked
        {
            long perToken = 24L * config.HiddenSize + 4L * config.IntermediateSize;
            long perExample = (long)tokens * perToken + 5L * config.NumHeads * tokens * tokens;
            long activations = 4L * perExample * Math.Max(1, config.NumLayers) * batch;
            return new MemoryEstimate(4L * totalParameters, 12L * trainableParameters, activations, RuntimeBaseBytes);
        }
    }

    /// <summary>Throws an <see cref="InsufficientMemoryException"/> naming the estimate when it exceeds <paramref
    /// name="availableBytes"/>.</summary>
    /// <param name="where">"host memory" or a device's name, for the message.</param>
    public void Check(long availableBytes, string where)
    {
        if (TotalBytes <= availableBytes) return;
        throw new InsufficientMemoryException(
            $"the run needs about {GiB(TotalBytes)} (weights {GiB(WeightBytes)}, gradients and optimizer state " +
                $"{GiB(TrainingStateBytes)}, " +
            $"activations {GiB(ActivationBytes)}), but {GiB(availableBytes)} of {where} is available; lower --batch-size or --max-length");
    }

    public override string ToString() => $"about {GiB(TotalBytes)} (activations {GiB(ActivationBytes)})";

    /// <summary>Host memory a new allocation can get now: MemAvailable from /proc/meminfo, else the GC's view of the machine.</summary>
    public static long HostAvailableBytes()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
    }

    private static string GiB(long bytes) => (bytes / (double)(1L << 30)).ToString("0.0#", CultureInfo.InvariantCulture) + " GiB";
}
