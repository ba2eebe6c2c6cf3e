using Finetune.Nn.IO;

namespace Finetune.Peft.Lora;

/// <summary>LoRA, DoRA and rsLoRA in the registry (tag "LORA").</summary>
public sealed class LoraMethod : PeftMethod<LoraConfig>
{
    public override string PeftType => "LORA";

    protected override void Inject(LoraConfig config, Injection injection) => LoraInjector.Inject(config, injection);

    protected override LoraConfig Parse(JsonFields fields) => LoraConfig.FromJson(fields);
}
