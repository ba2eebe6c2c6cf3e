using Finetune.Kernels;

namespace Finetune.Nn.Optim;

/// <summary>A parameter the optimizer updates, with its dotted name (for weight-decay rules and checkpoints).</summary>
public sealed record NamedParameter(string Name, Tensor Tensor);

/// <summary>
/// Base of the optimizers: holds the trainable parameters (frozen ones are never seen, so they get no
/// state), the learning rate the scheduler sets, and per-parameter state tensors that live outside scopes.
/// </summary>
public abstract class Optimizer : IDisposable
{
    private readonly Dictionary<string, Tensor[]> _state = new();

    protected Optimizer(IEnumerable<NamedParameter> parameters, float learningRate)
    {
        if (!(learningRate >= 0)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "optimizer: learning rate must be >= 0");
        Parameters = parameters.Where(p => p.Tensor.RequiresGrad).ToList();
        var duplicate = Parameters.GroupBy(p => p.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"optimizer: parameter name '{duplicate.Key}' appears twice");
        BaseLearningRate = learningRate;
        LearningRate = learningRate;
    }

    public IReadOnlyList<NamedParameter> Parameters { get; }

    /// <summary>The rate a schedule scales from.</summary>
    public float BaseLearningRate { get; }

    /// <summary>The rate of the next step (set by a schedule).</summary>
    public float LearningRate { get; set; }

    /// <summary>Steps taken so far (AdamW's bias correction uses it; checkpoints save it).</summary>
    public long StepCount { get; set; }

    /// <summary>Applies one update to every parameter that has a gradient.</summary>
    public void Step()
    {
        StepCount++;
        using var noGrad = GradMode.NoGrad();
        foreach (var p in Parameters)
        {
            var grad = p.Tensor.Grad;
            if (grad is null) continue;
            if (!p.Tensor.IsContiguous)
                throw new InvalidOperationException($"optimizer: parameter '{p.Name}' {p.Tensor.Describe()} is not contiguous");
            Update(p, grad.IsContiguous ? grad : grad.Contiguous());
        }
    }

    protected abstract void Update(NamedParameter p, Tensor grad);

    public void ZeroGrad()
    {
        foreach (var p in Parameters) p.Tensor.ZeroGrad();
    }

    /// <summary>State tensors of one parameter, created zeroed on first use (kept outside every scope).</summary>
    protected Tensor[] StateOf(NamedParameter p, int count)
    {
        if (_state.TryGetValue(p.Name, out var s)) return s;
        s = new Tensor[count];
        for (int i = 0; i < count; i++) s[i] = Tensor.Full(p.Tensor._shape, 0f, p.Tensor.Device).Keep();
        _state[p.Name] = s;
        return s;
    }

    /// <summary>Every state tensor by "parameter/slot" name, for checkpoints.</summary>
    public IEnumerable<(string Name, Tensor Tensor)> StateTensors() =>
        _state.SelectMany(kv => kv.Value.Select((t, i) => ($"{kv.Key}/{i}", t)));

    /// <summary>Restores state saved by <see cref="StateTensors"/>; shapes must match the parameters.</summary>
    public void LoadState(IReadOnlyDictionary<string, float[]> tensors, int slots)
    {
        foreach (var p in Parameters)
        {
            if (!tensors.ContainsKey($"{p.Name}/0")) continue;
            var s = StateOf(p, slots);
            for (int i = 0; i < slots; i++)
            {
                string key = $"{p.Name}/{i}";
                if (!tensors.TryGetValue(key, out var values))
                    throw new InvalidDataException($"optimizer state: '{key}' is missing");
                if (values.Length != s[i].Count)
                    throw new InvalidDataException($"optimizer state: '{key}' has {values.Length} values, parameter {p.Tensor.Describe()} needs {s[i].Count}");
                s[i].Backend.CopyFromHost<float>(values, s[i].Dense);
            }
        }
    }

    public void Dispose()
    {
        foreach (var s in _state.Values)
            foreach (var t in s) t.Dispose();
        _state.Clear();
        GC.SuppressFinalize(this);
    }
}

/// <summary>AdamW (Loshchilov &amp; Hutter): Adam with decoupled weight decay; no decay on biases and norms by default.</summary>
public sealed class AdamW : Optimizer
{
    public AdamW(IEnumerable<NamedParameter> parameters, float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f,
        float eps = 1e-8f, float weightDecay = 0.01f, Func<NamedParameter, bool>? decays = null)
        : base(parameters, learningRate)
    {
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "AdamW: beta1 must be in [0, 1)");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "AdamW: beta2 must be in [0, 1)");
        if (!(eps > 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "AdamW: eps must be > 0");
        if (!(weightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "AdamW: weight decay must be >= 0");
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
        WeightDecay = weightDecay;
        Decays = decays ?? DecaysByDefault;
    }

    public float Beta1 { get; }
    public float Beta2 { get; }
    public float Eps { get; }
    public float WeightDecay { get; }
    public Func<NamedParameter, bool> Decays { get; }

    /// <summary>Biases, LayerNorm weights and other vectors are not decayed (the BERT convention).</summary>
    public static bool DecaysByDefault(NamedParameter p) =>
        p.Tensor.Rank > 1 && !p.Name.EndsWith("bias", StringComparison.Ordinal) &&
        !p.Name.Contains("LayerNorm", StringComparison.OrdinalIgnoreCase) && !p.Name.Contains("layer_norm", StringComparison.OrdinalIgnoreCase);

    protected override void Update(NamedParameter p, Tensor grad)
    {
        var s = StateOf(p, 2);
        var step = new AdamWStep(LearningRate, Beta1, Beta2, Eps, Decays(p) ? WeightDecay : 0f,
            1f - MathF.Pow(Beta1, StepCount), 1f - MathF.Pow(Beta2, StepCount));
        p.Tensor.Backend.AdamW(p.Tensor.Dense, grad.Dense, s[0].Dense, s[1].Dense, p.Tensor.Count, step);
    }
}

/// <summary>SGD with (optionally Nesterov) momentum and L2 weight decay, as torch.optim.SGD.</summary>
public sealed class Sgd : Optimizer
{
    public Sgd(IEnumerable<NamedParameter> parameters, float learningRate, float momentum = 0f, float weightDecay = 0f, bool nesterov = false)
        : base(parameters, learningRate)
    {
        if (!(momentum >= 0)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "SGD: momentum must be >= 0");
        if (!(weightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "SGD: weight decay must be >= 0");
        if (nesterov && momentum == 0) throw new ArgumentException("SGD: Nesterov momentum needs momentum > 0");
        Momentum = momentum;
        WeightDecay = weightDecay;
        Nesterov = nesterov;
    }

    public float Momentum { get; }
    public float WeightDecay { get; }
    public bool Nesterov { get; }

    protected override void Update(NamedParameter p, Tensor grad)
    {
        using var scope = TensorScope.Begin();
        var d = WeightDecay == 0 ? grad : grad + p.Tensor * WeightDecay;
        if (Momentum != 0)
        {
            var buf = StateOf(p, 1)[0];
            // The first step starts the buffer at the gradient, as PyTorch does.
            var next = StepCount == 1 ? d.Clone() : buf * Momentum + d;
            buf.CopyFrom(next);
            d = Nesterov ? d + buf * Momentum : buf;
        }
        p.Tensor.CopyFrom(p.Tensor - d * LearningRate);
    }
}
