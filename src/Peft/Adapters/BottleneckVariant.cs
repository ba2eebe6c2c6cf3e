
namespace Finetune.Peft.Adapters;

public enum BottleneckVariant
{
    /// <summary>Houlsby et al. (2019): after the attention sublayer and after the feed-forward sublayer.</summary>
    Houlsby,

    /// <summary>Pfeiffer et al. (2021): after the feed-forward sublayer only.</summary>
    Pfeiffer,

    /// <summary>He et al. (2022): beside the feed-forward sublayer, fed its input, scaled and added to its output.</summary>
    Parallel,
}
