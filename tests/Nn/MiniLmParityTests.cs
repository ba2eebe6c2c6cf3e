using Finetune.Nn;
using Finetune.Nn.IO;
using Finetune.Nn.Text;
using Microsoft.ML.OnnxRuntime;

namespace Finetune.Tests.Nn;

/// <summary>The imported all-MiniLM-L6-v2 against ONNX Runtime running the same ONNX file.</summary>
[NonParallelizable]
public class MiniLmParityTests
{
    private static readonly string[] Sentences =
    {
        "The quick brown fox jumps over the lazy dog.",
        "Hello world",
        "Parameter-efficient fine-tuning adapts large pretrained models by training only a small number of extra weights, such as low-rank adapters.",
        "I didn't like this movie at all!",
    };

    private BertModel _model = null!;
    private BertTokenizerAdapter _tokenizer = null!;
    private InferenceSession _session = null!;

    [OneTimeSetUp]
    public void Load()
    {
        _model = MiniLm.LoadModel();
        _model.Eval();
        _tokenizer = MiniLm.LoadTokenizer();
        using var onnx = MiniLm.OpenOnnx();
        using var bytes = new MemoryStream();
        onnx.CopyTo(bytes);
        _session = new InferenceSession(bytes.ToArray());
    }

    [OneTimeTearDown]
    public void Free()
    {
        _model.Dispose();
        _session.Dispose();
    }

    private float[] RunOrt(EncodedBatch batch)
    {
        long[] shape = { batch.BatchSize, batch.SequenceLength };
        using var ids = OrtValue.CreateTensorValueFromMemory(batch.InputIds.Select(i => (long)i).ToArray(), shape);
        using var mask = OrtValue.CreateTensorValueFromMemory(batch.AttentionMask.Select(m => (long)m).ToArray(), shape);
        using var types = OrtValue.CreateTensorValueFromMemory(batch.TokenTypeIds.Select(i => (long)i).ToArray(), shape);
        using var run = new RunOptions();
        using var outputs = _session.Run(run, new[] { "input_ids", "attention_mask", "token_type_ids" }, new[] { ids, mask, types }, new[] { "last_hidden_state" });
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private static float[] RunEngine(BertModel model, EncodedBatch batch, Device? device = null)
    {
        using var scope = TensorScope.Begin();
        using var noGrad = GradMode.NoGrad();
        return model.Forward(batch.InputIdsTensor(device), batch.AttentionMaskTensor(device), batch.TokenTypeIdsTensor(device)).ToArray();
    }

    /// <summary>Max |engine - ORT| over the real (unpadded) tokens.</summary>
    private static double MaxErrorAtRealTokens(EncodedBatch batch, float[] expected, float[] actual, int hidden)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length));
        double maxErr = 0;
        for (int b = 0; b < batch.BatchSize; b++)
            for (int t = 0; t < batch.Lengths[b]; t++)
                for (int h = 0; h < hidden; h++)
                {
                    int i = (b * batch.SequenceLength + t) * hidden + h;
                    maxErr = Math.Max(maxErr, Math.Abs(actual[i] - expected[i]));
                }
        return maxErr;
    }

    [Test]
    public void Import_finds_every_weight_of_the_six_layer_encoder()
    {
        var c = _model.Config;
        Assert.That((c.VocabSize, c.HiddenSize, c.NumLayers, c.NumHeads, c.IntermediateSize, c.MaxPositions, c.TypeVocabSize),
            Is.EqualTo((30522, 384, 6, 12, 1536, 512, 2)));
        Assert.That(_model.ParameterCounts().Total, Is.EqualTo(22713216L));
        Assert.That(_model.NamedParameters().Select(p => p.Key), Does.Contain("encoder.layer.5.attention.self.query.weight"));
    }

    [Test]
    public void Last_hidden_state_matches_onnx_runtime_at_real_tokens()
    {
        var batch = _tokenizer.EncodeBatch(Sentences);
        Assert.That(batch.Lengths.Distinct().Count(), Is.GreaterThan(2), "the batch must mix lengths so padding is exercised");
        double maxErr = MaxErrorAtRealTokens(batch, RunOrt(batch), RunEngine(_model, batch), _model.Config.HiddenSize);
        TestContext.Out.WriteLine($"MiniLM last_hidden_state max abs error vs ONNX Runtime: {maxErr:E2}");
        Assert.That(maxErr, Is.LessThan(1e-4));
    }

    [Test]
    public void Last_hidden_state_on_the_cuda_host_device_matches_onnx_runtime()
    {
        var backend = Finetune.Tests.Cuda.CudaTestDevices.Get(Finetune.Tests.Cuda.CudaTestDevices.Host);
        Backends.Register(backend);
        using var model = MiniLm.LoadModel();
        model.To(backend.Device);
        model.Eval();
        var batch = _tokenizer.EncodeBatch(Sentences);
        double maxErr = MaxErrorAtRealTokens(batch, RunOrt(batch), RunEngine(model, batch, backend.Device), model.Config.HiddenSize);
        TestContext.Out.WriteLine($"MiniLM on the host device: last_hidden_state max abs error vs ONNX Runtime: {maxErr:E2}");
        Assert.That(maxErr, Is.LessThan(1e-4), "the CPU's tolerance");
    }

    [Test]
    public void Mean_pooled_embedding_matches_onnx_runtime_and_ignores_padding()
    {
        var batch = _tokenizer.EncodeBatch(Sentences);
        var ort = RunOrt(batch);
        int hidden = _model.Config.HiddenSize, seq = batch.SequenceLength;
        float[] embeddings;
        using (TensorScope.Begin())
        using (GradMode.NoGrad())
        {
            var mask = batch.AttentionMaskTensor();
            embeddings = Pooling.Mean(_model.Forward(batch.InputIdsTensor(), mask), mask).ToArray();
        }
        double maxErr = 0;
        for (int b = 0; b < batch.BatchSize; b++)
            for (int h = 0; h < hidden; h++)
            {
                double sum = 0;
                for (int t = 0; t < batch.Lengths[b]; t++) sum += ort[(b * seq + t) * hidden + h];
                maxErr = Math.Max(maxErr, Math.Abs(sum / batch.Lengths[b] - embeddings[b * hidden + h]));
            }
        TestContext.Out.WriteLine($"MiniLM mean-pooled embedding max abs error vs ONNX Runtime: {maxErr:E2}");
        Assert.That(maxErr, Is.LessThan(1e-4));

        var single = _tokenizer.EncodeBatch(new[] { Sentences[1] });
        float[] alone;
        using (TensorScope.Begin())
        using (GradMode.NoGrad())
        {
            var mask = single.AttentionMaskTensor();
            alone = Pooling.Mean(_model.Forward(single.InputIdsTensor(), mask), mask).ToArray();
        }
        for (int h = 0; h < hidden; h++)
            Assert.That(alone[h], Is.EqualTo(embeddings[hidden + h]).Within(1e-4), "padding changed the embedding");
    }

    [Test]
    public void Embed_from_an_exported_folder_agrees_with_onnx_runtime_on_accents_currency_emoji_tabs_and_cjk()
    {
        string[] sentences =
        {
            "Café crème at Agnès' bistro: a naïve résumé of Ångström's work",
            "It costs $5 + €3 = £7 < ¥1000, 50% off ^_^ | ~ `quoted`",
            "I loved it 😀🎉👍🏽 and my kids ❤️ it too!",
            "tabs\tbetween\twords\tand a trailing tab\t",
            "我喜欢这部电影，日本語のテキストも好き",
        };
        var dir = Directory.CreateTempSubdirectory("minilm-folder-").FullName;
        try
        {
            BertCheckpoint.Save(_model, dir);
            _tokenizer.SaveFiles(dir);
            using var encoder = HfModelFolder.LoadBert(dir);
            encoder.Eval();
            using var tokenizer = BertTokenizerAdapter.FromModelDirectory(dir, MiniLm.MaxSequenceLength);
            var embeddings = SentenceEmbeddings.Embed(encoder, tokenizer, sentences, batchSize: 2);
            var batch = _tokenizer.EncodeBatch(sentences);
            Assert.That(tokenizer.EncodeBatch(sentences).InputIds, Is.EqualTo(batch.InputIds), "the folder's tokenizer.json gives the package tokenizer's ids");
            var ort = RunOrt(batch);
            int hidden = _model.Config.HiddenSize, seq = batch.SequenceLength;
            double worst = 1;
            for (int b = 0; b < batch.BatchSize; b++)
            {
                var reference = new double[hidden];
                for (int t = 0; t < batch.Lengths[b]; t++)
                    for (int h = 0; h < hidden; h++) reference[h] += ort[(b * seq + t) * hidden + h] / batch.Lengths[b];
                double dot = 0, a2 = 0, r2 = 0;
                for (int h = 0; h < hidden; h++)
                {
                    dot += embeddings[b][h] * reference[h];
                    a2 += (double)embeddings[b][h] * embeddings[b][h];
                    r2 += reference[h] * reference[h];
                }
                worst = Math.Min(worst, dot / Math.Sqrt(a2 * r2));
            }
            TestContext.Out.WriteLine($"embed --model folder vs ONNX Runtime: lowest cosine 1 - {1 - worst:E2}");
            Assert.That(worst, Is.GreaterThanOrEqualTo(0.9999));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void Related_sentences_embed_closer_than_unrelated_ones()
    {
        var batch = _tokenizer.EncodeBatch(new[] { "A man is playing a guitar.", "Someone plays an instrument.", "The stock market fell sharply today." });
        float[] e;
        using (TensorScope.Begin())
        using (GradMode.NoGrad())
        {
            var mask = batch.AttentionMaskTensor();
            e = Pooling.L2Normalize(Pooling.Mean(_model.Forward(batch.InputIdsTensor(), mask), mask)).ToArray();
        }
        int h = _model.Config.HiddenSize;
        double Cos(int a, int b) => Enumerable.Range(0, h).Sum(i => (double)e[a * h + i] * e[b * h + i]);
        Assert.That(Cos(0, 1), Is.GreaterThan(Cos(0, 2) + 0.2));
    }

    [Test]
    public void Tokenizer_adds_cls_and_sep_lowercases_truncates_and_pads()
    {
        Assert.That(_tokenizer.Encode("Hello World"), Is.EqualTo(new[] { 101, 7592, 2088, 102 }));
        var truncated = _tokenizer.Encode(Sentences[2], maxLength: 8);
        Assert.That(truncated, Has.Length.EqualTo(8));
        Assert.That(truncated[0], Is.EqualTo(101));
        Assert.That(truncated[^1], Is.EqualTo(102));
        var batch = _tokenizer.EncodeBatch(new[] { "hello", "hello world again" });
        Assert.That(batch.SequenceLength, Is.EqualTo(5));
        Assert.That(batch.InputIds[..5], Is.EqualTo(new[] { 101, 7592, 102, 0, 0 }));
        Assert.That(batch.AttentionMask[..5], Is.EqualTo(new[] { 1f, 1f, 1f, 0f, 0f }));
        Assert.That(_tokenizer.EncodeBatch(new[] { "hello" }, maxLength: 16, padToMaxLength: true).SequenceLength, Is.EqualTo(16));
    }
}
