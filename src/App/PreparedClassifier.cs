using Finetune.Nn;
using Finetune.Nn.Training;

using Finetune.Peft;

namespace Finetune.App;

/// <summary>A classifier ready to train: the model, its adapters, and how Engine.Train calls it.</summary>
public sealed class PreparedClassifier : IDisposable
{
    internal PreparedClassifier(Module model, IClassifier classifier, PeftModel<Module> peft, FineTuneOptions options)
    {
        Model = model;
        Classifier = classifier;
        Peft = peft;
        Options = options;
    }

    public Module Model { get; }
    public IClassifier Classifier { get; }
    public PeftModel<Module> Peft { get; }
    public FineTuneOptions Options { get; }

    public TrainableReport Report => Peft.TrainableReport();

    public void Dispose()
    {
        Peft.Dispose();
        Model.Dispose();
    }
}
