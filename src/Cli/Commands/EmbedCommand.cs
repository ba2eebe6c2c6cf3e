using System.CommandLine;
using System.Globalization;
using System.Text;
using Finetune.Nn.IO;
using Finetune.Nn.Text;

namespace Finetune.Cli.Commands;

/// <summary>Sentence embeddings: mean-pooled hidden states over the attention mask, one JSON array per input line.</summary>
internal static class EmbedCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model")
        {
            Description = "minilm (the packaged all-MiniLM-L6-v2) or a Hugging Face model folder (BERT, MiniLM, DistilBERT)",
            DefaultValueFactory = _ => "minilm",
        };
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
            var name = r.GetValue(model)!;
            bool packaged = string.Equals(name, "minilm", StringComparison.OrdinalIgnoreCase);
            var on = CommonOptions.SelectDevice(r, device);
            using var encoder = packaged ? MiniLm.LoadModel() : HfModelFolder.LoadBert(name);
            encoder.To(on);
            encoder.Eval();
            using var tokenizer = packaged ? MiniLm.LoadTokenizer() : BertTokenizerAdapter.FromModelDirectory(name,
                encoder.Config.MaxPositions);
            var json = new StringBuilder();
            foreach (var vector in SentenceEmbeddings.Embed(encoder, tokenizer, lines, batchSize, r.GetValue(normalize)))
            {
                json.Append('[');
                for (int j = 0; j < vector.Length; j++)
                {
                    if (j > 0) json.Append(',');
                    json.Append(vector[j].ToString("R", CultureInfo.InvariantCulture));
                }
                json.Append("]\n");
            }
            AtomicFile.WriteAllText(r.GetValue(output)!, json.ToString());
            Console.Error.WriteLine($"wrote {lines.Length} embeddings of {encoder.Config.HiddenSize} floats to {r.GetValue(output)}");
            return 0;
        }));
        return command;
    }
}
