using Finetune.Nn.Data;
using Finetune.Nn.IO;
using Finetune.Nn.Training;

namespace Finetune.Nn;

/// <summary>
/// A ViT encoder folder: <c>config.json</c> + <c>model.safetensors</c> (HF names without the <c>vit.</c> prefix), each
/// written atomically. The Fashion-MNIST ViT that <c>finetune pretrain-vit</c> trains is cached under the data cache.
/// </summary>
public static class VitCheckpoint
{
    public const string ConfigFile = "config.json";
    public const string WeightsFile = "model.safetensors";

    /// <summary>The classes the cached ViT is pretrained on; PEFT methods adapt it to the other five.</summary>
    public static readonly IReadOnlyList<int> PretrainClasses = new[] { 0, 1, 2, 3, 4 };

    public static readonly IReadOnlyList<int> AdaptClasses = new[] { 5, 6, 7, 8, 9 };

    /// <summary>Where pretrain-vit caches its model: &lt;cache&gt;/vit-fashion-mnist-0-4.</summary>
    public static string DefaultDirectory(string? cacheDirectory = null) =>
        Path.Combine(cacheDirectory ?? ImdbReviews.DefaultCacheDirectory(), "vit-fashion-mnist-0-4");

    /// <summary>
    /// Writes config.json, model.safetensors and, for <paramref name="images"/>, preprocessor_config.json as one folder
    /// swapped in by rename (<see cref="AtomicDirectory"/>).
    /// </summary>
    public static void Save(VitModel model, string directory, ImageProcessorConfig? images = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        AtomicDirectory.Write(directory, tmp =>
        {
            var state = model.StateDict();
            try
            {
                SafeTensors.Save(Path.Combine(tmp, WeightsFile), state, new Dictionary<string, string> { ["format"] = "pt" });
            }
            finally
            {
                foreach (var t in state.Values) t.Dispose();
            }
            if (images is not null) AtomicFile.WriteAllText(Path.Combine(tmp, ImageProcessorConfig.FileName), images.ToJson());
            AtomicFile.WriteAllText(Path.Combine(tmp, ConfigFile), model.Config.ToJson());
        });
    }

    public static VitModel Load(string directory)
    {
        string configPath = Path.Combine(directory, ConfigFile), weightsPath = Path.Combine(directory, WeightsFile);
        if (!File.Exists(configPath))
            throw new FileNotFoundException($"{configPath}: not found; run 'finetune pretrain-vit' first to "
                + "train and cache the ViT", configPath);
        var config = VitConfig.FromJson(JsonFields.ReadFile(configPath));
        var state = SafeTensors.Load(weightsPath);
        try
        {
            var model = new VitModel(config, new Generator(0));
            return Module.WithState(model, state, weightsPath);
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
        }
    }

    public static bool Exists(string directory) =>
        File.Exists(Path.Combine(directory, ConfigFile)) && File.Exists(Path.Combine(directory, WeightsFile));
}
