namespace Finetune.Nn.Data;

/// <summary>
/// Batches of a list, reshuffled each epoch by a seeded permutation (epoch e uses stream e), so the order of
/// every batch of every epoch is a function of the seed alone and a run can resume from any position.
/// </summary>
public sealed class DataLoader<T>
{
    private readonly IReadOnlyList<T> _items;

    public DataLoader(IReadOnlyList<T> items, int batchSize, bool shuffle = true, ulong seed = 0, bool dropLast = false)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (batchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "data loader: batch size must be at least 1");
        if (items.Count == 0) throw new ArgumentException("data loader: the dataset is empty");
        _items = items;
        BatchSize = batchSize;
        Shuffle = shuffle;
        Seed = seed;
        DropLast = dropLast;
    }

    public int BatchSize { get; }
    public bool Shuffle { get; }
    public ulong Seed { get; }
    public bool DropLast { get; }

    public int Count => _items.Count;

    public int BatchesPerEpoch => DropLast ? _items.Count / BatchSize : (_items.Count + BatchSize - 1) / BatchSize;

    public int[] Order(int epoch)
    {
        if (!Shuffle)
        {
            var identity = new int[_items.Count];
            for (int i = 0; i < identity.Length; i++) identity[i] = i;
            return identity;
        }
        return Permutation.Shuffled(_items.Count, Seed, (ulong)epoch + 1);
    }

    /// <summary>Batch <paramref name="batch"/> of epoch <paramref name="epoch"/>.</summary>
    public IReadOnlyList<T> Batch(int epoch, int batch, int[]? order = null)
    {
        if (batch < 0 || batch >= BatchesPerEpoch)
            throw new ArgumentOutOfRangeException(nameof(batch), batch, $"data loader: batch {batch} is outside [0, {BatchesPerEpoch})");
        order ??= Order(epoch);
        int start = batch * BatchSize, end = Math.Min(order.Length, start + BatchSize);
        var items = new T[end - start];
        for (int i = start; i < end; i++) items[i - start] = _items[order[i]];
        return items;
    }

    /// <summary>Every batch from <paramref name="from"/> onwards, forever (epoch after epoch), with its position.</summary>
    public IEnumerable<(LoaderPosition Position, IReadOnlyList<T> Items)> From(LoaderPosition from)
    {
        for (int epoch = from.Epoch; ; epoch++)
        {
            var order = Order(epoch);
            for (int b = epoch == from.Epoch ? from.Batch : 0; b < BatchesPerEpoch; b++)
                yield return (new LoaderPosition(epoch, b), Batch(epoch, b, order));
        }
    }
}
