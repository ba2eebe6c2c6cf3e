using System.Buffers.Binary;
using System.Text;
using Finetune.Nn;
using Finetune.Nn.Data;
using Finetune.Nn.IO;
using Finetune.Nn.Training;
using Finetune.App;
using Finetune.Peft;
using Finetune.Peft.Adapters;
using Finetune.Peft.IA3;
using Finetune.Peft.Lora;
using Finetune.Peft.Prefix;
using SkiaSharp;

namespace Finetune.Tests.Fuzz;

/// <summary>
/// Every file reader of the project, as fuzz targets. A new reader (a dataset file, tokenizer.json) is one more entry
/// in <see cref="All"/>: its name, the file name its errors carry, valid seeds, and the entry point.
/// </summary>
public static class FuzzTargets
{
    public static IReadOnlyList<FuzzTarget> All { get; } = new[]
    {
        SafeTensorsTarget(),
        Json("adapter_config", "adapter_config.json", f => PeftRegistry.ReadConfig(f),
            new LoraConfig { Rank = 8, Alpha = 16, TargetModules = new[] { "query", "value" }, ModulesToSave = new[] { "classifier" } }.ToJson(),
            new LoraConfig { UseDora = true, TargetRegex = ".*dense" }.ToJson(),
            new BottleneckConfig { ReductionFactor = 16, ModulesToSave = new[] { "classifier" } }.ToJson(),
            new PrefixTuningConfig { NumVirtualTokens = 10, Projection = true }.ToJson(),
            new Ia3Config().ToJson()),
        Json("finetune_run", "finetune_run.json", f => FineTuneOptions.FromJson(f),
            """{ "Method": "lora", "Rank": 8, "Alpha": 16, "LoraDropout": null, "Targets": ["query", "value"], "FreezeLayers": null, "FreezeEmbeddings": false, "VirtualTokens": null, "ReductionFactor": null, "PromptInitText": null, "Pooling": "Mean", "Labels": 2, "Seed": 42 }""",
            """{ "Method": "full", "FreezeLayers": 3, "FreezeEmbeddings": true, "Pooling": "Pooler", "Labels": 5, "Seed": 7 }""",
            """{ "Method": "prompt", "VirtualTokens": 20, "PromptInitText": "is this review positive ?", "Labels": 2 }"""),
        Json("trainer_state", "trainer_state.json", f => TrainerState.Validate(f, totalSteps: 6, batchesPerEpoch: 4, gradientAccumulation: 1, optimizerSlots: 2),
            """{ "step": 5, "epoch": 1, "batch": 1, "dropout_offset": 1234, "optimizer_steps": 5, "since_best": 1, "optimizer_slots": 2, "best": { "step": 2, "loss": 0.5, "accuracy": 0.75, "examples": 8 }, "losses": [ { "step": 1, "loss": 0.7, "learning_rate": 0.001, "grad_norm": 1.5, "examples_per_second": 30.5 } ], "evaluations": [ { "step": 2, "loss": 0.5, "accuracy": 0.75, "examples": 8 }, { "step": 4, "loss": 0.6, "accuracy": 0.5, "examples": 8 } ], "run_name": "lora r=8", "settings": { "batch_size": "4", "seed": "42", "method": "lora r=8 α=16" } }"""),
        Json("bert_config", "config.json", f => BertConfig.FromJson(f), BertConfig.MiniLmL6.ToJson(), new BertConfig().ToJson()),
        Json("vit_config", "config.json", f => VitConfig.FromJson(f), new VitConfig().ToJson(), new VitConfig { ImageSize = 32, PatchSize = 4, Channels = 3 }.ToJson()),
        // A user's dataset files: their one documented error is DataFileException naming file, row and column.
        Data("csv", "fuzz.csv", b => CsvTable.Read(new MemoryStream(b), "fuzz.csv"), DataSeeds.Csv),
        Data("tsv", "fuzz.tsv", b => CsvTable.Read(new MemoryStream(b), "fuzz.tsv", '\t'), DataSeeds.Tsv),
        Data("jsonl", "fuzz.jsonl", b => JsonlTable.Read(new MemoryStream(b), "fuzz.jsonl"), DataSeeds.Jsonl),
        Data("lines", "fuzz.txt", b => LineTable.Read(new MemoryStream(b), "fuzz.txt"), DataSeeds.Lines),
        Data("parquet", "fuzz.parquet", b => ParquetTable.Read(new MemoryStream(b), "fuzz.parquet"), DataSeeds.Parquet()),
        Data("png", "fuzz.png", b => ImageDecoder.Decode(b, "fuzz.png", DataSeeds.Processor), DataSeeds.Image(SKEncodedImageFormat.Png))
            with { MutantsMaySurvive = false },
        Data("jpeg", "fuzz.jpg", b => ImageDecoder.Decode(b, "fuzz.jpg", DataSeeds.Processor), DataSeeds.Image(SKEncodedImageFormat.Jpeg)),
    };

    private static FuzzTarget Data(string name, string source, Action<byte[]> read, byte[] seed) =>
        new(name, source, new[] { seed }, read) { Documented = typeof(DataFileException) };

    public static FuzzTarget Get(string name) => All.FirstOrDefault(t => t.Name == name) ?? throw new ArgumentException($"no fuzz target '{name}'");

    private static FuzzTarget Json(string name, string source, Action<JsonFields> read, params string[] seeds) =>
        new(name, source, seeds.Select(Encoding.UTF8.GetBytes).ToArray(), bytes => read(JsonFields.Parse(bytes, source)));

    private static FuzzTarget SafeTensorsTarget()
    {
        const string source = "model.safetensors";
        return new FuzzTarget("safetensors", source, new[] { SafeTensorsSeed(false), SafeTensorsSeed(true) }, bytes =>
        {
            using var stream = new MemoryStream(bytes, writable: false);
            var tensors = SafeTensors.Load(stream, source);
            foreach (var t in tensors.Values) t.Dispose();
        })
        {
            Mutate = MutateSafeTensors,
        };
    }

    /// <summary>A small valid file: float32 and int32 tensors, with or without metadata.</summary>
    public static byte[] SafeTensorsSeed(bool metadata)
    {
        var path = Path.Combine(Path.GetTempPath(), $"fuzz-seed-{Environment.ProcessId}-{metadata}.safetensors");
        using (var scope = TensorScope.Begin())
        {
            var tensors = new Dictionary<string, Tensor>
            {
                ["encoder.layer.0.attention.self.query.lora_A.weight"] = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3),
                ["encoder.layer.0.attention.self.query.lora_B.weight"] = Tensor.FromArray(new float[] { 0.5f, -1, 0, 2 }, 4, 1),
                ["ids"] = Tensor.FromArray(new[] { 7, 8, 9 }, 3),
            };
            SafeTensors.Save(path, tensors, metadata ? new Dictionary<string, string> { ["format"] = "pt", ["peft_type"] = "LORA" } : null);
        }
        var bytes = File.ReadAllBytes(path);
        File.Delete(path);
        return bytes;
    }

    /// <summary>Mutates the JSON header (most bugs live there) and usually rewrites the length so the mutant still parses as a frame.</summary>
    private static byte[] MutateSafeTensors(byte[] input, Random rng)
    {
        if (input.Length < 8 || rng.Next(8) == 0) return Mutator.Mutate(input, rng);
        long len = (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(input), (ulong)(input.Length - 8));
        var header = input.AsSpan(8, (int)len).ToArray();
        var data = input.AsSpan(8 + (int)len).ToArray();
        header = Mutator.Mutate(header, rng);
        if (rng.Next(4) == 0 && data.Length > 0) data = Mutator.Mutate(data, rng);
        var result = new byte[8 + header.Length + data.Length];
        ulong written = rng.Next(5) == 0 ? (ulong)rng.NextInt64() : (ulong)header.Length;
        BinaryPrimitives.WriteUInt64LittleEndian(result, written);
        header.CopyTo(result, 8);
        data.CopyTo(result, 8 + header.Length);
        return result;
    }
}
