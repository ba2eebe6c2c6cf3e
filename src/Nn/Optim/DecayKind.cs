namespace Finetune.Nn.Optim;

public enum DecayKind
{
    Constant,
    Linear,
    Cosine,
}
