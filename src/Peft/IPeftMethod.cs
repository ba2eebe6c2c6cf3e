using Finetune.Nn.IO;

namespace Finetune.Peft;

/// <summary>One method: how its config is read back from adapter_config.json and how it changes a model.</summary>
public interface IPeftMethod
{
    /// <summary>The <c>peft_type</c> tag of its configs.</summary>
    string PeftType { get; }

    Type ConfigType { get; }

    /// <summary>Changes the model (whose base parameters are already frozen), recording every change in
    /// <paramref name="injection"/>.</summary>
    void Inject(PeftConfig config, Injection injection);

    /// <summary>Reads and validates the method's adapter_config.json; errors are <see cref="InvalidDataException"/>s naming the
    /// field.</summary>
    PeftConfig ParseConfig(JsonFields fields);

    /// <summary>Folds the adapter of <paramref name="injection"/> into the base weights; methods that cannot, throw.</summary>
    void Merge(Injection injection);

    /// <summary>Takes a merged adapter out of the base weights again.</summary>
    void Unmerge(Injection injection);

    /// <summary>Whether the adapter of <paramref name="injection"/> is folded into the base weights now.</summary>
    bool IsMerged(Injection injection);
}
