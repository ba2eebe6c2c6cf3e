using System.Text.RegularExpressions;

namespace Finetune.Peft.Full;

/// <summary>Every base weight trains, except optionally the embeddings and the lowest <see cref="FreezeLayers"/> encoder layers.</summary>
public sealed record FullFineTuningConfig : PeftConfig
{
    public override string PeftType => "FULL";

    /// <summary>Keep <c>embeddings.*</c> frozen.</summary>
    public bool FreezeEmbeddings { get; init; }

    /// <summary>Keep <c>encoder.layer.0</c> … <c>encoder.layer.(n−1)</c> frozen.</summary>
    public int FreezeLayers { get; init; }

    public override void Validate()
    {
        if (FreezeLayers < 0) throw new ArgumentOutOfRangeException(nameof(FreezeLayers), FreezeLayers, "full: field 'freeze_layers' must be >= 0");
    }
}

/// <summary>Only the modules to save (a new head) train: the frozen-encoder baseline.</summary>
public sealed record LinearProbeConfig : PeftConfig
{
    public override string PeftType => "LINEAR_PROBE";

    public override void Validate()
    {
        if (ModulesToSave.Count == 0) throw new ArgumentException("linear probe: field 'modules_to_save' must name the head to train");
    }
}

public sealed partial class FullFineTuningMethod : PeftMethod<FullFineTuningConfig>
{
    public override string PeftType => "FULL";

    protected override void Inject(FullFineTuningConfig config, Injection injection)
    {
        int layers = 0;
        foreach (var (path, p) in injection.Root.NamedParameters())
        {
            var layer = LayerIndex().Match(path);
            if (layer.Success) layers = Math.Max(layers, int.Parse(layer.Groups[1].ValueSpan, System.Globalization.CultureInfo.InvariantCulture) + 1);
            bool frozen = (config.FreezeEmbeddings && Embeddings().IsMatch(path))
                          || (layer.Success && int.Parse(layer.Groups[1].ValueSpan, System.Globalization.CultureInfo.InvariantCulture) < config.FreezeLayers);
            if (!frozen) injection.TrainInPlace(p);
        }
        if (config.FreezeLayers > layers)
            throw new ArgumentException($"full: field 'freeze_layers' is {config.FreezeLayers}, but the model has {layers} encoder layers");
    }

    [GeneratedRegex(@"(?:^|\.)encoder\.layer\.(\d+)\.")]
    private static partial Regex LayerIndex();

    [GeneratedRegex(@"(?:^|\.)embeddings\.")]
    private static partial Regex Embeddings();
}

public sealed class LinearProbeMethod : PeftMethod<LinearProbeConfig>
{
    public override string PeftType => "LINEAR_PROBE";

    // The head is a module to save, which the model wrapper copies and trains; nothing else changes.
    protected override void Inject(LinearProbeConfig config, Injection injection)
    {
    }
}
