namespace Finetune.Nn;

/// <summary>Learned key and value rows prepended to one self-attention's keys and values (prefix tuning).</summary>
public interface IKeyValuePrefix
{
    int Length { get; }

    /// <summary>Keys and values, each [batch, Length, hidden] (before the split into heads).</summary>
    (Tensor Keys, Tensor Values) KeysAndValues(int batch);
}
