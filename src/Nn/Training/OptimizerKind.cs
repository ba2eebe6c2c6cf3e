using Finetune.Nn.Optim;

namespace Finetune.Nn.Training;

public enum OptimizerKind
{
    AdamW,
    Sgd,
}
