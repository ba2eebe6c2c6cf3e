namespace Finetune.Peft;

/// <summary>Trainable / total parameter counts, printed as PEFT's print_trainable_parameters does.</summary>
public readonly record struct TrainableReport(long Trainable, long Total)
{
    public double Percent => Total == 0 ? 0 : 100.0 * Trainable / Total;

    public override string ToString() =>
        FormattableString.Invariant($"trainable params: {Trainable:N0} || all params: {Total:N0} || trainable%: {Percent:F4}");
}
