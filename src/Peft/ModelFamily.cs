
namespace Finetune.Peft;

/// <summary>The model families a preset knows targets for.</summary>
public enum ModelFamily
{
    Bert,
    Vit,
}
