namespace Finetune.Nn.Data;

/// <summary>Where a loader stands: the epoch and the next batch within it. Saved in checkpoints for exact resume.</summary>
public readonly record struct LoaderPosition(int Epoch, int Batch);
