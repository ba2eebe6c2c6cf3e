using Finetune.Kernels;

namespace Finetune.Nn.Optim;

/// <summary>
/// Base of the optimizers: holds the trainable parameters (frozen ones are never seen, so they get no
/// state), the learning rate the scheduler sets, and per-parameter state tensors that live outside scopes.
/// </summary>
public abstract class Optimizer : IDisposable
{
    private readonly Dictionary<string, Tensor[]> _state = new();

    protected Optimizer(IEnumerable<NamedParameter> parameters, float learningRate)
    {
        if (!(learningRate >= 0))
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "optimizer: learning rate must be >= 0");
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
        if (slots < 1)
            throw new ArgumentOutOfRangeException(nameof(slots), slots,
                $"optimizer state: {slots} slots per parameter, expected at least 1");
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
                    throw new InvalidDataException($"optimizer state: '{key}' has {values.Length} values, parameter "
                        + $"{p.Tensor.Describe()} needs {s[i].Count}");
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
