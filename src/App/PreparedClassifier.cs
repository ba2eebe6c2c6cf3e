using System.Text.Json;
using System.Text.Json.Serialization;
using Finetune.Nn;
using Finetune.Nn.Data;
using Finetune.Nn.IO;
using Finetune.Nn.Text;
using Finetune.Nn.Training;
using Finetune.Peft.Adapters;
using Finetune.Peft.Full;
using Finetune.Peft.Lora;
using Finetune.Peft.Prefix;
using Finetune.Peft.Prompts;

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
