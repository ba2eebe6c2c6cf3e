using Finetune.Nn.IO;
using Finetune.Peft.Adapters;
using Finetune.Peft.BitFit;
using Finetune.Peft.Full;
using Finetune.Peft.IA3;
using Finetune.Peft.LnTuning;
using Finetune.Peft.Lora;
using Finetune.Peft.Prefix;
using Finetune.Peft.Prompts;

namespace Finetune.Peft;

/// <summary>
/// Every method by its config type and tag, and the named presets. Adding a method is adding a folder and one line in
/// <see cref="Methods"/> (and a preset to make it reachable by name).
/// </summary>
public static class PeftRegistry
{
    public static IReadOnlyList<IPeftMethod> Methods { get; } = new IPeftMethod[]
    {
        new FullFineTuningMethod(), new LinearProbeMethod(), new LoraMethod(), new Ia3Method(), new BitFitMethod(),
        new LnTuningMethod(), new PromptTuningMethod(), new PrefixTuningMethod(), new BottleneckMethod(),
    };

    private static readonly ModelFamily[] Both = { ModelFamily.Bert, ModelFamily.Vit };
    private static readonly string[] Head = { "classifier" };

    /// <summary>LoRA targets: BERT's query and value; ViT's query, key, value and both feed-forward projections.</summary>
    public static IReadOnlyList<string> LoraTargets(ModelFamily family) => family == ModelFamily.Bert
        ? new[] { "query", "value" }
        : new[] { "query", "key", "value", "intermediate.dense", "layer.*.output.dense" };

    private static LoraConfig Lora(ModelFamily f) =>
        new() { Rank = 8, Alpha = 16, Dropout = 0.1f, TargetModules = LoraTargets(f), ModulesToSave = Head };

    public static IReadOnlyList<PeftPreset> Presets { get; } = new PeftPreset[]
    {
        new("linear-probe", "frozen encoder, new head only", (_, _) => new LinearProbeConfig { ModulesToSave = Head }, 1e-3f, 3e-3f, Both),
        new("full", "every weight trains", (_, _) => new FullFineTuningConfig { ModulesToSave = Head }, 5e-5f, 5e-4f, Both),
        new("freeze-lower", "full fine-tuning with the embeddings and the lower half of the layers frozen",
            (_, layers) => new FullFineTuningConfig { FreezeEmbeddings = true, FreezeLayers = layers / 2, ModulesToSave = Head },
            5e-5f, 5e-4f, Both),
        new("lora", "LoRA r=8, α=16", (f, _) => Lora(f), 1e-3f, 3e-3f, Both),
        new("rslora", "LoRA r=8 with rank-stabilised scaling α/√r", (f, _) => Lora(f) with { UseRsLora = true }, 1e-3f, 3e-3f, Both),
        new("dora", "DoRA r=8: learned magnitude, LoRA direction", (f, _) => Lora(f) with { UseDora = true }, 1e-3f, 3e-3f, Both),
        new("ia3", "IA3: learned scaling of keys, values and feed-forward activations",
            (_, _) => new Ia3Config { ModulesToSave = Head }, 3e-3f, 1e-2f, Both),
        new("bitfit", "biases only", (_, _) => new BitFitConfig { ModulesToSave = Head }, 1e-3f, 3e-3f, Both),
        new("ln-tuning", "LayerNorm weights and biases only", (_, _) => new LnTuningConfig { ModulesToSave = Head }, 1e-3f, 3e-3f, Both),
        new("prompt", "prompt tuning: 20 virtual tokens (BERT: from vocabulary words; ViT: VPT-shallow, 10 tokens)",
            (f, _) => f == ModelFamily.Bert
                ? new PromptTuningConfig { NumVirtualTokens = 20, Init = PromptInit.Vocabulary, ModulesToSave = Head }
                : new PromptTuningConfig { NumVirtualTokens = 10, ModulesToSave = Head }, 1e-2f, 1e-2f, Both),
        new("vpt-deep", "VPT-deep: 10 learned tokens in every layer",
            (_, _) => new PromptTuningConfig { NumVirtualTokens = 10, Deep = true, ModulesToSave = Head }, 1e-2f, 1e-2f,
            new[] { ModelFamily.Vit }),
        new("prefix", "prefix tuning (P-tuning v2): 10 key/value prefixes per layer",
            (_, _) => new PrefixTuningConfig { NumVirtualTokens = 10, ModulesToSave = Head }, 1e-2f, 1e-2f, Both),
        new("prefix-mlp", "prefix tuning with the reparameterisation MLP",
            (_, _) => new PrefixTuningConfig { NumVirtualTokens = 10, Projection = true, ModulesToSave = Head }, 1e-3f, 3e-3f, Both),
        new("houlsby", "Houlsby adapters after attention and FFN, reduction 16 (ViT: 4)",
            (f, _) => new BottleneckConfig { Variant = BottleneckVariant.Houlsby, ReductionFactor = f == ModelFamily.Bert ? 16 : 4,
                ModulesToSave = Head }, 1e-3f, 3e-3f, Both),
        new("pfeiffer", "Pfeiffer adapter after the FFN, reduction 16 (ViT: 4)",
            (f, _) => new BottleneckConfig { Variant = BottleneckVariant.Pfeiffer, ReductionFactor = f == ModelFamily.Bert ? 16 : 4,
                ModulesToSave = Head }, 1e-3f, 3e-3f, Both),
        new("parallel", "parallel adapter beside the FFN, reduction 16 (ViT: 4), scale 4",
            (f, _) => new BottleneckConfig { Variant = BottleneckVariant.Parallel, ReductionFactor = f == ModelFamily.Bert ? 16 : 4,
                Scaling = 4f, ModulesToSave = Head }, 1e-3f, 3e-3f, Both),
    };

    public static IPeftMethod ForConfig(PeftConfig config) =>
        Methods.FirstOrDefault(m => m.ConfigType == config.GetType())
        ?? throw new ArgumentException($"peft: no registered method takes a {config.GetType().Name}");

    public static IPeftMethod ForPeftType(string peftType, string source = "adapter_config.json") =>
        Methods.FirstOrDefault(m => m.PeftType == peftType)
        ?? throw new InvalidDataException($"{source}: field 'peft_type' is '{peftType}', not one of "
            + $"{string.Join(", ", Methods.Select(m => m.PeftType))}");

    public static PeftPreset Preset(string name) =>
        Presets.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"peft: unknown method '{name}'; known: {string.Join(", ", Presets.Select(p => p.Name))}");

    /// <summary>The presets that apply to <paramref name="family"/>, in table order.</summary>
    public static IEnumerable<PeftPreset> PresetsFor(ModelFamily family) => Presets.Where(p => p.Families.Contains(family));

    /// <summary>Reads any method's adapter_config.json, dispatching on its peft_type.</summary>
    public static PeftConfig ReadConfig(string json, string source = "adapter_config.json") => ReadConfig(JsonFields.Parse(json, source));

    /// <summary>Reads an adapter_config.json file.</summary>
    public static PeftConfig ReadConfigFile(string path) => ReadConfig(JsonFields.ReadFile(path));

    public static PeftConfig ReadConfig(JsonFields fields)
    {
        var type = fields.String("peft_type")!;
        // PEFT's bookkeeping fields set aside, the ones this engine cannot honour named (PeftFormat).
        var clean = JsonFields.Parse(PeftFormat.StripFileFields(fields.Object, fields.Source).ToJsonString(), fields.Source);
        return ForPeftType(type, fields.Source).ParseConfig(clean);
    }
}
