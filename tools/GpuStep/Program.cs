using System.Diagnostics;
using System.Globalization;
using Finetune;
using Finetune.Kernels;
using Finetune.Kernels.Cuda;
using Finetune.Nn;
using Finetune.Nn.Text;
using Finetune.Nn.Optim;
using Finetune.Nn.Training;
using Finetune.Peft;

// finetune-gpu-step --shape minilm|bert-base --method lora|full [--batch 32] [--seq 128] [--reps 10] [--device cuda|host]
// One BERT training step (forward, cross-entropy, backward, AdamW) on random weights, timed on a device: the median of
// --reps steps after two warm-up steps. Prints one JSON line: {"shape", "method", "batch", "seq", "device", "step_ms"}.
string shape = "minilm", method = "lora", device = "cuda";
int batch = 32, seq = 128, reps = 10;
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--shape": shape = Next(); break;
        case "--method": method = Next(); break;
        case "--device": device = Next(); break;
        case "--batch": batch = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--seq": seq = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--reps": reps = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        default:
            Console.Error.WriteLine("usage: finetune-gpu-step --shape minilm|bert-base --method lora|full [--batch 32] [--seq 128] [--reps 10] [--device cuda|host]");
            return 64;
    }
}
var config = shape switch
{
    "minilm" => BertConfig.MiniLmL6,
    "bert-base" => new BertConfig(),
    _ => throw new ArgumentException($"--shape must be minilm or bert-base, got '{shape}'"),
};
if (method is not ("lora" or "full")) throw new ArgumentException($"--method must be lora or full, got '{method}'");
if (batch < 1 || seq < 1 || seq > config.MaxPositions || reps < 1) throw new ArgumentException("--batch, --seq (at most 512) and --reps must be positive");
Device on;
try
{
    on = DeviceSelection.Select(device);
}
catch (CudaUnavailableException e)
{
    Console.Error.WriteLine($"finetune-gpu-step: {e.Message}");
    return 2;
}

// The registry's preset on a fresh classifier, built on the CPU and moved (what FineTuning does, without the App layer and
// its plotting packages, which would not fit the payload).
using var model = new BertForSequenceClassification(new BertModel(config, new Generator(1)), 2, PoolingMode.Mean, new Generator(1));
using var peft = PeftModel.Apply<Module>(model, PeftRegistry.Preset(method).Create(ModelFamily.Bert, config.NumLayers));
model.To(on);
var classifier = new BertTextClassifier(model);
var parameters = model.NamedParameters().Where(p => p.Value.Trainable).Select(p => new NamedParameter(p.Key, p.Value.Value)).ToList();
using var optimizer = new AdamW(parameters, 1e-4f);
var rng = new Random(0);
var ids = Enumerable.Range(0, batch * seq).Select(_ => rng.Next(1000, 20000)).ToArray();
var mask = Enumerable.Repeat(1f, ids.Length).ToArray();
var labels = Enumerable.Range(0, batch).Select(i => i % 2).ToArray();
model.Train();
var backend = Backends.For(on);
double Step()
{
    var clock = Stopwatch.StartNew();
    using (TensorScope.Begin())
    {
        var target = Tensor.FromArray(labels, new[] { batch }, on);
        var inputs = new Dictionary<string, Tensor>
        {
            ["input_ids"] = Tensor.FromArray(ids, new[] { batch, seq }, on),
            ["attention_mask"] = Tensor.FromArray(mask, new[] { batch, seq }, on),
        };
        classifier.Logits(new Batch(inputs, target)).CrossEntropy(target).Backward();
        optimizer.Step();
        optimizer.ZeroGrad();
    }
    backend.Synchronize();
    return clock.Elapsed.TotalMilliseconds;
}
Step();
Step();
var times = Enumerable.Range(0, reps).Select(_ => Step()).Order().ToList();
Console.WriteLine(FormattableString.Invariant(
    $"{{\"shape\": \"{shape}\", \"method\": \"{method}\", \"batch\": {batch}, \"seq\": {seq}, \"device\": \"{backend.Name}\", \"step_ms\": {times[times.Count / 2]:F2}}}"));
return 0;
