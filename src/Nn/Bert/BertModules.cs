using Finetune.Kernels;

namespace Finetune.Nn;

/// <summary>word + position + token-type embeddings, then LayerNorm and dropout (HF <c>embeddings.*</c>).</summary>
public sealed class BertEmbeddings : Module
{
    public BertEmbeddings(BertConfig config, Generator? generator = null)
    {
        Config = config;
        RegisterModule("word_embeddings", new Embedding(config.VocabSize, config.HiddenSize, config.InitializerRange, generator));
        RegisterModule("position_embeddings", new Embedding(config.MaxPositions, config.HiddenSize, config.InitializerRange, generator));
        RegisterModule("token_type_embeddings", new Embedding(config.TypeVocabSize, config.HiddenSize, config.InitializerRange, generator));
        RegisterModule("LayerNorm", new LayerNorm(config.HiddenSize, config.LayerNormEps));
        RegisterModule("dropout", new Dropout(config.HiddenDropout, generator));
    }

    public BertConfig Config { get; }

    public Embedding WordEmbeddings => Child<Embedding>("word_embeddings");

    public Embedding PositionEmbeddings => Child<Embedding>("position_embeddings");

    public Embedding TokenTypeEmbeddings => Child<Embedding>("token_type_embeddings");

    /// <summary>int32 ids [B, T] (and optional int32 token types [B, T], zeros when null) → [B, T, hidden].</summary>
    public Tensor Forward(Tensor inputIds, Tensor? tokenTypeIds = null)
    {
        ArgumentNullException.ThrowIfNull(inputIds);
        if (inputIds.Rank != 2 || inputIds.DType != DType.Int32)
            throw new ArgumentException($"bert embeddings: input ids must be int32 [batch, seq], got {inputIds.DType.Name()} {inputIds.Describe()}");
        int batch = inputIds.Size(0), seq = inputIds.Size(1);
        if (seq > Config.MaxPositions)
            throw new ArgumentException($"bert embeddings: sequence length {seq} exceeds max_position_embeddings {Config.MaxPositions}");
        if (tokenTypeIds is not null && (!tokenTypeIds.ShapeEquals(inputIds) || tokenTypeIds.DType != DType.Int32))
            throw new ArgumentException($"bert embeddings: token type ids {tokenTypeIds.DType.Name()} {tokenTypeIds.Describe()} must be int32 of the ids' shape {inputIds.Describe()}");
        var types = tokenTypeIds ?? Tensor.FromArray(new int[batch * seq], new[] { batch, seq }, inputIds.Device);
        var words = WordEmbeddings.Forward(inputIds);
        var typeEmbeddings = TokenTypeEmbeddings.Forward(types);
        if (FindChild<IPromptTokens>(Hooks.Prompt) is { } prompt)
        {
            if (prompt.Depth != 1) throw new InvalidOperationException($"bert embeddings: a prompt of depth {prompt.Depth} cannot be inserted here (only depth 1)");
            // Virtual tokens come first, as word embeddings of token type 0; positions then count them too.
            words = Tensor.Concat(new[] { prompt.Tokens(0, batch), words }, 1);
            var promptTypes = Tensor.FromArray(new int[batch * prompt.Length], new[] { batch, prompt.Length }, inputIds.Device);
            typeEmbeddings = Tensor.Concat(new[] { TokenTypeEmbeddings.Forward(promptTypes), typeEmbeddings }, 1);
            seq += prompt.Length;
            if (seq > Config.MaxPositions)
                throw new ArgumentException($"bert embeddings: sequence length {seq - prompt.Length} plus {prompt.Length} prompt tokens exceeds max_position_embeddings {Config.MaxPositions}");
        }
        var positions = Tensor.FromArray(Enumerable.Range(0, seq).ToArray(), new[] { seq }, inputIds.Device);
        var x = words + typeEmbeddings + PositionEmbeddings.Forward(positions);
        return Child<Layer>("dropout").Forward(Child<Layer>("LayerNorm").Forward(x));
    }

    /// <summary>Virtual tokens the forward prepends (0 without a prompt hook).</summary>
    public int PromptLength => FindChild<IPromptTokens>(Hooks.Prompt)?.Length ?? 0;
}

/// <summary>
/// Multi-head scaled dot-product self-attention (HF <c>attention.self</c>): query/key/value projections, an
/// additive padding mask, softmax, dropout on the probabilities; returns the heads concatenated, before the output projection.
/// </summary>
public sealed class BertSelfAttention : Module
{
    public BertSelfAttention(BertConfig config, Generator? generator = null)
    {
        NumHeads = config.NumHeads;
        HeadDim = config.HeadDim;
        int h = config.HiddenSize;
        RegisterModule("query", Linear.WithNormalInit(h, h, config.InitializerRange, generator));
        RegisterModule("key", Linear.WithNormalInit(h, h, config.InitializerRange, generator));
        RegisterModule("value", Linear.WithNormalInit(h, h, config.InitializerRange, generator));
        RegisterModule("dropout", new Dropout(config.AttentionDropout, generator));
    }

    public int NumHeads { get; }

    public int HeadDim { get; }

    /// <summary>x [B, T, H]; <paramref name="additiveMask"/> broadcastable to [B, heads, T, T] (0 keep, large negative drop).</summary>
    public Tensor Forward(Tensor x, Tensor? additiveMask)
    {
        int b = x.Size(0), t = x.Size(1);
        var q = SplitHeads(Child<Layer>("query").Forward(x), b, t);
        var keys = Child<Layer>("key").Forward(x);
        var values = Child<Layer>("value").Forward(x);
        int tk = t;
        if (FindChild<IKeyValuePrefix>(Hooks.Prefix) is { } prefix)
        {
            var (pk, pv) = prefix.KeysAndValues(b);
            keys = Tensor.Concat(new[] { pk, keys }, 1);
            values = Tensor.Concat(new[] { pv, values }, 1);
            tk += prefix.Length;
            // Every query may attend to every prefix position.
            if (additiveMask is not null)
                additiveMask = Tensor.Concat(new[] { Tensor.Zeros(new[] { additiveMask.Size(0), additiveMask.Size(1), additiveMask.Size(2), prefix.Length }, x.Device), additiveMask }, 3);
        }
        var k = SplitHeads(keys, b, tk);
        var v = SplitHeads(values, b, tk);
        var scores = q.Matmul(k.Transpose(-1, -2));
        var probs = Child<Layer>("dropout").Forward(scores.ScaledMaskedSoftmax(1f / MathF.Sqrt(HeadDim), additiveMask));
        var context = probs.Matmul(v);
        return context.Transpose(1, 2).Reshape(b, t, NumHeads * HeadDim);
    }

    /// <summary>[B, T, H] → [B, heads, T, headDim] as a view.</summary>
    private Tensor SplitHeads(Tensor y, int b, int t) => y.View(b, t, NumHeads, HeadDim).Transpose(1, 2);
}

/// <summary>A projection, dropout and a LayerNorm (HF <c>attention.output</c> and <c>output</c>).</summary>
public sealed class BertProjection : Module
{
    public BertProjection(int inFeatures, BertConfig config, Generator? generator = null)
    {
        RegisterModule("dense", Linear.WithNormalInit(inFeatures, config.HiddenSize, config.InitializerRange, generator));
        RegisterModule("LayerNorm", new LayerNorm(config.HiddenSize, config.LayerNormEps));
        RegisterModule("dropout", new Dropout(config.HiddenDropout, generator));
    }

    public Layer Dense => Child<Layer>("dense");

    public Layer LayerNorm => Child<Layer>("LayerNorm");

    /// <summary>dropout(dense(x)), without the residual and the norm.</summary>
    public Tensor Project(Tensor x) => Child<Layer>("dropout").Forward(Dense.Forward(x));
}

/// <summary>HF <c>attention</c>: self-attention and its output projection.</summary>
public sealed class BertAttention : Module
{
    public BertAttention(BertConfig config, Generator? generator = null)
    {
        RegisterModule("self", new BertSelfAttention(config, generator));
        RegisterModule("output", new BertProjection(config.HiddenSize, config, generator));
    }

    public BertSelfAttention Self => Child<BertSelfAttention>("self");

    public BertProjection Output => Child<BertProjection>("output");
}

/// <summary>HF <c>intermediate</c>: the first feed-forward projection and its activation.</summary>
public sealed class BertIntermediate : Layer
{
    public BertIntermediate(BertConfig config, Generator? generator = null)
    {
        RegisterModule("dense", Linear.WithNormalInit(config.HiddenSize, config.IntermediateSize, config.InitializerRange, generator));
        RegisterModule("intermediate_act_fn", new Gelu(config.HiddenAct != "gelu"));
    }

    public override Tensor Forward(Tensor input) => Child<Layer>("intermediate_act_fn").Forward(Child<Layer>("dense").Forward(input));
}

/// <summary>
/// One Transformer encoder layer with HF BERT names. Post-LN (BERT): h = LN(x + attn(x)), y = LN(h + ffn(h)).
/// Pre-LN (ViT): h = x + attn(LN(x)), y = h + ffn(LN(h)), using the same two LayerNorms.
/// </summary>
public sealed class BertLayer : Module
{
    public BertLayer(BertConfig config, Generator? generator = null)
    {
        PreLayerNorm = config.PreLayerNorm;
        RegisterModule("attention", new BertAttention(config, generator));
        RegisterModule("intermediate", new BertIntermediate(config, generator));
        RegisterModule("output", new BertProjection(config.IntermediateSize, config, generator));
    }

    public bool PreLayerNorm { get; }

    public BertAttention Attention => Child<BertAttention>("attention");

    public BertIntermediate Intermediate => Child<BertIntermediate>("intermediate");

    public BertProjection Output => Child<BertProjection>("output");

    public Tensor Forward(Tensor x, Tensor? additiveMask)
    {
        var attn = Attention;
        var ffnOut = Output;
        if (PreLayerNorm)
        {
            var normed = attn.Output.LayerNorm.Forward(x);
            var h = x + Adapt(Hooks.AttentionAdapter, normed, attn.Output.Project(attn.Self.Forward(normed, additiveMask)));
            var normedH = ffnOut.LayerNorm.Forward(h);
            return h + Adapt(Hooks.OutputAdapter, normedH, ffnOut.Project(Intermediate.Forward(normedH)));
        }
        var h1 = attn.Output.LayerNorm.Forward(x + Adapt(Hooks.AttentionAdapter, x, attn.Output.Project(attn.Self.Forward(x, additiveMask))));
        return ffnOut.LayerNorm.Forward(h1 + Adapt(Hooks.OutputAdapter, h1, ffnOut.Project(Intermediate.Forward(h1))));
    }

    private Tensor Adapt(string hook, Tensor input, Tensor output) =>
        FindChild<ISublayerAdapter>(hook) is { } adapter ? adapter.Forward(input, output) : output;
}

/// <summary>HF <c>encoder</c>: a stack of layers named <c>layer.0</c>, <c>layer.1</c>, ….</summary>
public sealed class BertEncoder : Module
{
    private readonly ModuleList _layers;

    public BertEncoder(BertConfig config, Generator? generator = null)
    {
        _layers = RegisterModule("layer", new ModuleList());
        for (int i = 0; i < config.NumLayers; i++) _layers.Add(new BertLayer(config, generator));
    }

    public int Count => _layers.Count;

    public BertLayer this[int index] => (BertLayer)_layers[index];

    public Tensor Forward(Tensor x, Tensor? additiveMask)
    {
        for (int i = 0; i < _layers.Count; i++)
        {
            if (GradMode.IsEnabled)
            {
                x = this[i].Forward(x, additiveMask);
                continue;
            }
            // Without a graph nothing needs a layer's intermediates afterwards: free them layer by layer, so
            // inference holds one layer's activations instead of all of them.
            using var scope = TensorScope.Begin();
            x = scope.Return(this[i].Forward(x, additiveMask));
        }
        return x;
    }
}

/// <summary>HF <c>pooler</c>: tanh(dense(hidden state of the first token)).</summary>
public sealed class BertPooler : Layer
{
    public BertPooler(BertConfig config, Generator? generator = null) =>
        RegisterModule("dense", Linear.WithNormalInit(config.HiddenSize, config.HiddenSize, config.InitializerRange, generator));

    /// <summary>[B, T, H] → [B, H].</summary>
    public override Tensor Forward(Tensor input) => Child<Layer>("dense").Forward(input.Narrow(1, 0, 1).Squeeze(1)).Tanh();
}
