using Finetune.Nn;

namespace Finetune.Peft.Prefix;

public sealed class PrefixTuningMethod : PeftMethod<PrefixTuningConfig>
{
    public override string PeftType => "PREFIX_TUNING";

    public const string EncoderName = "prefix_encoder";

    protected override void Inject(PrefixTuningConfig config, Injection injection)
    {
        var attentions = injection.Root.NamedModules().Where(m => m.Value is BertSelfAttention).ToList();
        if (attentions.Count == 0)
            throw new ArgumentException($"prefix tuning: {injection.Root.GetType().Name} has no self-attention to prefix");
        var first = (BertSelfAttention)attentions[0].Value;
        var encoder = new PrefixEncoder(config, attentions.Count, first.NumHeads * first.HeadDim, injection.Generator);
        injection.Attach("", EncoderName, encoder);
        for (int i = 0; i < attentions.Count; i++) injection.Attach(attentions[i].Key, Hooks.Prefix, new LayerPrefix(encoder, i));
    }
}
