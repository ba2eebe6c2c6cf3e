using Finetune.Nn;
using Finetune.Nn.IO;
using Finetune.Peft;

namespace Finetune.App;

/// <summary>
/// <c>finetune export</c>: a saved text run as Hugging Face files. Without merging, the adapter in PEFT's layout (what
/// PeftModel.from_pretrained loads on top of the base model it names) and the tokenizer; merged, a plain
/// BertForSequenceClassification folder with the adapter folded into the weights.
/// </summary>
public static class HfExport
{
    /// <summary>
    /// Methods whose result is a plain model: LoRA folds B·A into W and IA3 its vectors into W's rows or columns; the others
    /// trained base weights in place.
    /// </summary>
    public static bool CanMerge(PeftConfig config) =>
        config.PeftType is "LORA" or "IA3" or "FULL" or "LINEAR_PROBE" or "BITFIT" or "LN_TUNING";

    public static void Run(string runDirectory, string outputDirectory, bool merge)
    {
        var options = FineTuning.ReadOptions(runDirectory);
        using var prepared = FineTuning.LoadMiniLm(runDirectory);
        using var tokenizer = FineTuning.TextTokenizer(options, Nn.IO.MiniLm.MaxSequenceLength);
        if (merge) WriteMerged(prepared, outputDirectory);
        else prepared.Peft.SaveAdapter(outputDirectory);
        tokenizer.SaveFiles(outputDirectory);
    }

    /// <summary>The classifier with the active adapter folded in, as a BertForSequenceClassification folder.</summary>
    public static void WriteMerged(PreparedClassifier prepared, string outputDirectory)
    {
        var config = prepared.Peft.Config;
        if (!CanMerge(config))
            throw new ArgumentException($"export --merge: a {config.PeftType} adapter cannot be folded into a plain model; export " +
                $"without --merge to get it in PEFT's layout");
        if (prepared.Model is not BertForSequenceClassification model)
            throw new ArgumentException($"export --merge: a {prepared.Model.GetType().Name} is not a BERT sequence classifier");
        bool adapter = config.PeftType is "LORA" or "IA3";
        if (adapter) prepared.Peft.Merge();
        try
        {
            using var plain = new BertForSequenceClassification(new BertModel(model.Bert.Config, new Generator(0),
                model.Bert.Pooler is not null),
                model.NumLabels, model.PoolingMode);
            using (var scope = TensorScope.Begin())
            {
                var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
                foreach (var (path, p) in model.NamedParameters())
                {
                    if (path.Contains(".lora_", StringComparison.Ordinal) || path.EndsWith(".ia3_l", StringComparison.Ordinal)) continue;
                    state[path.Replace(".base_layer.", ".", StringComparison.Ordinal)] = p.Value.Detach();
                }
                plain.LoadStateDict(state, strict: true, "merged model");
            }
            // The run's class names (a --data run's labels) become id2label/label2id, as transformers' pipelines print them.
            var classes = prepared.Options.Classes(Path.Combine(outputDirectory, "config.json"))?.Names;
            HfModelFolder.SaveBertClassifier(plain, outputDirectory, classes);
        }
        finally
        {
            if (adapter) prepared.Peft.Unmerge();
        }
    }
}
