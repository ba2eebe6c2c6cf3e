
namespace Finetune.Peft.Prompts;

public enum PromptInit
{
    /// <summary>N(0, init_std).</summary>
    Random,

    /// <summary>Copies of word-embedding rows: <see cref="PromptTuningConfig.InitTokenIds"/> cycled, or ids drawn from the
    /// vocabulary.</summary>
    Vocabulary,
}
