
namespace Finetune.Nn.Training;

public sealed record EvalRecord(int Step, float Loss, float Accuracy, int Examples);
