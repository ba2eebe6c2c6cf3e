using Finetune.Nn;

namespace Finetune.Peft.Prompts;

public sealed class PromptTuningMethod : PeftMethod<PromptTuningConfig>
{
    public override string PeftType => "PROMPT_TUNING";

    protected override void Inject(PromptTuningConfig config, Injection injection)
    {
        var model = injection.Root;
        int n = config.NumVirtualTokens;
        if (model.NamedModules().FirstOrDefault(m => m.Value is BertEmbeddings) is { Value: BertEmbeddings emb } bert)
        {
            if (config.Deep)
                throw new ArgumentException("prompt tuning: field 'deep' needs a ViT; on BERT use prefix tuning for "
                    + "prompts in every layer");
            if (n > emb.Config.MaxPositions - 1)
                throw new ArgumentException($"prompt tuning: field 'num_virtual_tokens' is {n}, too many for "
                    + $"{emb.Config.MaxPositions} positions");
            Tensor initial;
            using (GradMode.NoGrad())
            {
                if (config.Init == PromptInit.Vocabulary)
                {
                    int[] ids;
                    if (config.InitTokenIds.Count > 0)
                        ids = Enumerable.Range(0, n).Select(i => config.InitTokenIds[i % config.InitTokenIds.Count]).ToArray();
                    else
                        using (var draws = Tensor.Uniform(new[] { n }, 0f, 1f, injection.Generator))
                            ids = draws.ToArray().Select(u => Math.Min(emb.Config.VocabSize - 1,
                                (int)(u * emb.Config.VocabSize))).ToArray();
                    if (ids.FirstOrDefault(i => i >= emb.Config.VocabSize, -1) is var bad && bad >= 0)
                        throw new ArgumentException($"prompt tuning: field 'init_token_ids' holds {bad}, outside the vocabulary of "
                            + $"{emb.Config.VocabSize}");
                    using var idTensor = Tensor.FromArray(ids, new[] { n }, emb.WordEmbeddings.Weight.Device);
                    initial = Tensor.Embedding(emb.WordEmbeddings.Weight.Value, idTensor).Contiguous();
                }
                else initial = Tensor.Normal(new[] { n, emb.Config.HiddenSize }, 0f, config.InitStd, injection.Generator);
            }
            injection.Attach(bert.Key, Hooks.Prompt, new PromptEmbedding(n, 1, initial));
            return;
        }
        if (model.NamedModules().FirstOrDefault(m => m.Value is VitModel) is { Value: VitModel vit } host)
        {
            if (config.Init == PromptInit.Vocabulary)
                throw new ArgumentException("prompt tuning: field 'init' is 'vocabulary', but a ViT has no vocabulary");
            int depth = config.Deep ? vit.Encoder.Count : 1;
            Tensor initial;
            using (GradMode.NoGrad())
                initial = Tensor.Normal(new[] { depth * n, vit.Config.HiddenSize }, 0f, config.InitStd, injection.Generator);
            injection.Attach(host.Key, Hooks.Prompt, new PromptEmbedding(n, depth, initial));
            return;
        }
        throw new ArgumentException($"prompt tuning: {model.GetType().Name} holds neither BERT embeddings nor a ViT to put a prompt into");
    }
}
