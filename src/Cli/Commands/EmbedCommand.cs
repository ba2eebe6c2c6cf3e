using System.CommandLine;
using System.Globalization;
using System.Text;
using Finetune.Nn;
using Finetune.Nn.IO;

namespace Finetune.Cli.Commands;

/// <summary>Sentence embeddings: mean-pooled MiniLM hidden states over the attention mask, one JSON array per input line.</summary>
internal static class EmbedCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "the encoder (minilm)", DefaultValueFactory = _ => "minilm" };
        var input = new Option<string>("--input", "-i") { Description = "text file, one sentence per line", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "where to write one JSON array of floats per line",
            Required = true };
        var normalize = new Option<bool>("--normalize") { Description = "scale each embedding to unit length (as "
            + "sentence-transformers does)" };
        var batch = new Option<int>("--batch-size") { Description = "sentences per forward pass", DefaultValueFactory = _ => 32 };
        var device = CommonOptions.DeviceOption();
        var command = new Command("embed", "Write sentence embeddings of each line of a file")
        {
            model, input, output, normalize, batch, device,
        };
        command.SetAction(r => CliErrors.Run(r, () =>
        {
            if (!string.Equals(r.GetValue(model), "minilm", StringComparison.OrdinalIgnoreCase))
                throw new ArgumentException($"--model: only 'minilm' (all-MiniLM-L6-v2) is available, got '{r.GetValue(model)}'");
            var inputPath = r.GetValue(input)!;
            if (!File.Exists(inputPath)) throw new FileNotFoundException($"--input: file '{inputPath}' does not exist", inputPath);
            string[] lines;
            try
            {
                lines = File.ReadAllLines(inputPath);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new IOException($"--input: cannot read '{inputPath}': {e.Message}", e);
            }
            int batchSize = CommonOptions.Positive(r.GetValue(batch), "--batch-size");
            var on = CommonOptions.SelectDevice(r, device);
            using var encoder = MiniLm.LoadModel();
            encoder.To(on);
            encoder.Eval();
            var tokenizer = MiniLm.LoadTokenizer();
            var json = new StringBuilder();
            using (GradMode.NoGrad())
            {
                for (int start = 0; start < lines.Length; start += batchSize)
                {
                    using var scope = TensorScope.Begin();
                    var chunk = lines.Skip(start).Take(batchSize).ToList();
                    var encoded = tokenizer.EncodeBatch(chunk);
                    var mask = encoded.AttentionMaskTensor(on);
                    var pooled = Pooling.Mean(encoder.Forward(encoded.InputIdsTensor(on), mask), mask);
                    if (r.GetValue(normalize)) pooled = Pooling.L2Normalize(pooled);
                    var values = pooled.ToArray();
                    int dim = pooled.Size(1);
                    for (int i = 0; i < chunk.Count; i++)
                    {
                        json.Append('[');
                        for (int j = 0; j < dim; j++)
                        {
                            if (j > 0) json.Append(',');
                            json.Append(values[i * dim + j].ToString("R", CultureInfo.InvariantCulture));
                        }
                        json.Append("]\n");
                    }
                }
            }
            AtomicFile.WriteAllText(r.GetValue(output)!, json.ToString());
            Console.Error.WriteLine($"wrote {lines.Length} embeddings of {encoder.Config.HiddenSize} floats to {r.GetValue(output)}");
            return 0;
        }));
        return command;
    }
}
