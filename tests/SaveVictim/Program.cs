using Finetune;
using Finetune.Nn;
using Finetune.App;

// SaveVictim <folder>: saves a fully fine-tuned small BERT with FineTuning.Save, version after version. In version v
// every trainable weight is v and the run file's seed is v, so a reader can tell whether the files of two saves mixed.
// Prints "saved v" after each save returns.
var folder = args[0];
var config = new BertConfig { VocabSize = 2000, HiddenSize = 128, NumLayers = 4, NumHeads = 4, IntermediateSize = 512, MaxPositions = 64 };
for (ulong v = 1; ; v++)
{
    using var prepared = FineTuning.Prepare(new BertModel(config, new Generator(0)), new FineTuneOptions { Method = "full", Seed = v });
    using (var scope = TensorScope.Begin())
        foreach (var p in prepared.Peft.TrainableParameters()) p.CopyFrom(Tensor.Full(p.Value.Shape.ToArray(), v));
    FineTuning.Save(prepared, folder);
    Console.WriteLine($"saved {v}");
    Console.Out.Flush();
}
