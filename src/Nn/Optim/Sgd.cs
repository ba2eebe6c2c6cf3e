using Finetune.Kernels;

namespace Finetune.Nn.Optim;

/// <summary>SGD with (optionally Nesterov) momentum and L2 weight decay, as torch.optim.SGD.</summary>
public sealed class Sgd : Optimizer
{
    public Sgd(IEnumerable<NamedParameter> parameters, float learningRate, float momentum = 0f, float weightDecay = 0f,
        bool nesterov = false)
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
