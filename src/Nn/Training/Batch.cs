namespace Finetune.Nn.Training;

/// <summary>
/// Model inputs of one batch by name ("input_ids", "attention_mask", "pixel_values", ...) and the int32
/// class labels [B]. Built inside a step's scope, so its tensors are freed with the step.
/// </summary>
public sealed record Batch(IReadOnlyDictionary<string, Tensor> Inputs, Tensor Labels)
{
    public int Size => Labels.Size(0);

    public Tensor this[string name] => Inputs.TryGetValue(name, out var t)
        ? t
        : throw new KeyNotFoundException($"batch: no input '{name}' (has {string.Join(", ", Inputs.Keys)})");

    /// <summary>This batch on <paramref name="device"/>: itself when every tensor is there, else a copy (the batch upload).</summary>
    public Batch To(Kernels.Device device) =>
        Labels.Device == device && Inputs.Values.All(t => t.Device == device)
            ? this
            : new Batch(Inputs.ToDictionary(kv => kv.Key, kv => kv.Value.To(device)), Labels.To(device));
}
