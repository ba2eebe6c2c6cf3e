using System.Text.RegularExpressions;

namespace Finetune.Peft.Full;

public sealed partial class FullFineTuningMethod : PeftMethod<FullFineTuningConfig>
{
    public override string PeftType => "FULL";

    protected override void Inject(FullFineTuningConfig config, Injection injection)
    {
        int layers = 0;
        foreach (var (path, p) in injection.Root.NamedParameters())
        {
            var layer = LayerIndex().Match(path);
            if (layer.Success)
                layers = Math.Max(layers, int.Parse(layer.Groups[1].ValueSpan, System.Globalization.CultureInfo.InvariantCulture) + 1);
            bool frozen = (config.FreezeEmbeddings && Embeddings().IsMatch(path))
                          || (layer.Success
                              && int.Parse(layer.Groups[1].ValueSpan, System.Globalization.CultureInfo.InvariantCulture)
                                  < config.FreezeLayers);
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
