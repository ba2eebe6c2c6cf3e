using System.Buffers.Binary;
using System.Globalization;
using System.Text.RegularExpressions;
using Finetune.Nn.IO.Onnx;

namespace Finetune.Nn.IO;

/// <summary>
/// Reads the weights of a BERT encoder exported to ONNX by PyTorch (e.g. all-MiniLM-L6-v2) into a <see cref="BertModel"/>.
/// Named initializers map by name; MatMul weights are unnamed and stored [in, out], so each is identified by the
/// named bias that the Add after its MatMul consumes, and transposed to PyTorch's [out, in].
/// </summary>
public static class OnnxBertImporter
{
    private const int OnnxFloat = 1;
    private const int OnnxInt64 = 7;

    /// <summary>
    /// Builds a model from <paramref name="onnx"/>. Sizes come from the weights; the head count from the graph's
    /// reshape constants unless <paramref name="config"/> is given. Every parameter must be found, with its shape.
    /// </summary>
    public static BertModel Load(Stream onnx, string source = "model.onnx", BertConfig? config = null)
    {
        ArgumentNullException.ThrowIfNull(onnx);
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(onnx);
        }
        catch (Google.Protobuf.InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"{source}: not a valid ONNX protobuf: {e.Message}", e);
        }
        var graph = model.Graph ?? throw new InvalidDataException($"{source}: field 'graph' is missing");
        var initializers = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        foreach (var t in graph.Initializer) initializers[t.Name] = t;

        var weights = new Dictionary<string, (TensorProto Tensor, bool Transpose)>(StringComparer.Ordinal);
        foreach (var t in graph.Initializer)
            if (t.DataType == OnnxFloat && LooksNamed(t.Name)) weights[t.Name] = (t, false);
        MapProjectionWeights(graph, initializers, weights, source);

        config ??= InferConfig(graph, initializers, weights, source);
        var bert = new BertModel(config, new Generator(0), addPooler: weights.ContainsKey("pooler.dense.weight"));
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var (name, (proto, transpose)) in weights)
                state[name] = ToTensor(proto, transpose, source);
            bert.LoadStateDict(state, strict: true, source);
        }
        catch
        {
            bert.Dispose();
            throw;
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
        }
        return bert;
    }

    /// <summary>PyTorch names parameters by path; unnamed initializers get numeric names.</summary>
    private static bool LooksNamed(string name) => name.Contains('.') && !name.EndsWith("position_ids", StringComparison.Ordinal);

    private static void MapProjectionWeights(GraphProto graph, Dictionary<string, TensorProto> initializers,
        Dictionary<string, (TensorProto, bool)> weights, string source)
    {
        var consumers = new Dictionary<string, List<NodeProto>>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
            foreach (var input in node.Input)
            {
                if (!consumers.TryGetValue(input, out var list)) consumers[input] = list = new List<NodeProto>();
                list.Add(node);
            }
        foreach (var node in graph.Node)
        {
            if (node.OpType == "Gemm" && node.Input.Count >= 2 && weights.ContainsKey(node.Input[1]))
            {
                // Gemm's transB = 1 means the weight is already [out, in].
                bool transB = node.Attribute.Any(a => a.Name == "transB" && a.I == 1);
                weights[node.Input[1]] = (initializers[node.Input[1]], !transB);
                continue;
            }
            if (node.OpType != "MatMul" || node.Input.Count != 2) continue;
            string w = node.Input[1];
            if (!initializers.TryGetValue(w, out var proto) || LooksNamed(w)) continue;
            var add = consumers.GetValueOrDefault(node.Output[0])?.FirstOrDefault(n => n.OpType == "Add");
            string? bias = add?.Input.FirstOrDefault(i => i != node.Output[0] && i.EndsWith(".bias", StringComparison.Ordinal)
                && initializers.ContainsKey(i));
            if (bias is null)
                throw new InvalidDataException($"{source}: node '{node.Name}' (MatMul) multiplies by unnamed initializer '{w}' but no Add "
                    + "with a named bias consumes its output, so the weight cannot be identified");
            string name = bias[..^".bias".Length] + ".weight";
            if (weights.ContainsKey(name))
                throw new InvalidDataException($"{source}: two MatMul weights map to '{name}' (the second is initializer '{w}' "
                    + $"in node '{node.Name}')");
            weights[name] = (proto, true);
        }
    }

    private static BertConfig InferConfig(GraphProto graph, Dictionary<string, TensorProto> initializers,
        Dictionary<string, (TensorProto Tensor, bool)> weights, string source)
    {
        long[] Dims(string name) => weights.TryGetValue(name, out var w)
            ? w.Tensor.Dims.ToArray()
            : throw new InvalidDataException($"{source}: initializer '{name}' is missing");
        var word = Dims("embeddings.word_embeddings.weight");
        var layerIndex = new Regex(@"^encoder\.layer\.(\d+)\.", RegexOptions.CultureInvariant);
        int layers = weights.Keys.Select(k => layerIndex.Match(k)).Where(m => m.Success)
            .Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) + 1).DefaultIfEmpty(0).Max();
        int hidden = (int)word[1];
        int heads = InferHeads(graph, initializers, hidden, source);
        return new BertConfig
        {
            VocabSize = (int)word[0],
            HiddenSize = hidden,
            NumLayers = layers,
            NumHeads = heads,
            IntermediateSize = layers > 0 ? (int)Dims("encoder.layer.0.intermediate.dense.bias")[0] : 4 * hidden,
            MaxPositions = (int)Dims("embeddings.position_embeddings.weight")[0],
            TypeVocabSize = (int)Dims("embeddings.token_type_embeddings.weight")[0],
        };
    }

    /// <summary>The head count is in the constant [B, T, heads, headDim] shape that splits the key projection.</summary>
    private static int InferHeads(GraphProto graph, Dictionary<string, TensorProto> initializers, int hidden, string source)
    {
        var producer = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
            foreach (var o in node.Output) producer[o] = node;
        var keyAdd = graph.Node.FirstOrDefault(n => n.OpType == "Add"
            && n.Input.Any(i => i.EndsWith("attention.self.key.bias", StringComparison.Ordinal)));
        var reshape = keyAdd is null ? null : graph.Node.FirstOrDefault(n => n.OpType == "Reshape" && n.Input.Count == 2
            && n.Input[0] == keyAdd.Output[0]);
        if (reshape is not null && producer.TryGetValue(reshape.Input[1], out var concat) && concat.OpType == "Concat"
            && concat.Input.Count == 4
            && initializers.TryGetValue(concat.Input[2], out var headsProto) && headsProto.DataType == OnnxInt64)
        {
            long heads = ReadInt64(headsProto, source);
            if (heads > 0 && hidden % heads == 0) return (int)heads;
        }
        throw new InvalidDataException($"{source}: cannot find the attention head count in the graph (Reshape of the key "
            + "projection); pass a BertConfig");
    }

    private static long ReadInt64(TensorProto t, string source)
    {
        if (t.Int64Data.Count == 1) return t.Int64Data[0];
        if (t.RawData.Length == 8) return BinaryPrimitives.ReadInt64LittleEndian(t.RawData.Span);
        throw new InvalidDataException($"{source}: initializer '{t.Name}' should hold one int64 (field raw_data has "
            + $"{t.RawData.Length} bytes)");
    }

    private static Tensor ToTensor(TensorProto t, bool transpose, string source)
    {
        if (t.DataLocation != 0)
            throw new InvalidDataException($"{source}: initializer '{t.Name}' keeps its data in an external file (field data_location), "
                + "which is not supported");
        if (t.DataType != OnnxFloat)
            throw new InvalidDataException($"{source}: initializer '{t.Name}' has data_type {t.DataType}, expected 1 (float)");
        var dims = t.Dims.Select(d => d is < 0 or > int.MaxValue
            ? throw new InvalidDataException($"{source}: initializer '{t.Name}' has invalid dims [{string.Join(", ", t.Dims)}]")
            : (int)d).ToArray();
        long count = dims.Aggregate(1L, (a, d) => a * d);
        float[] values;
        if (t.RawData.Length > 0)
        {
            if (t.RawData.Length != count * 4)
                throw new InvalidDataException($"{source}: initializer '{t.Name}' field raw_data has {t.RawData.Length} bytes, but dims "
                    + $"[{string.Join(", ", dims)}] need {count * 4}");
            values = new float[count];
            var span = t.RawData.Span;
            for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(span.Slice(i * 4, 4));
        }
        else
        {
            if (t.FloatData.Count != count)
                throw new InvalidDataException($"{source}: initializer '{t.Name}' field float_data has {t.FloatData.Count} values, but "
                    + $"dims [{string.Join(", ", dims)}] need {count}");
            values = t.FloatData.ToArray();
        }
        if (!transpose) return Tensor.FromArray(values, dims);
        if (dims.Length != 2)
            throw new InvalidDataException($"{source}: initializer '{t.Name}' is a MatMul weight but has dims "
                + $"[{string.Join(", ", dims)}], not 2-D");
        int rows = dims[0], cols = dims[1];
        var transposed = new float[values.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) transposed[c * rows + r] = values[r * cols + c];
        return Tensor.FromArray(transposed, cols, rows);
    }
}
