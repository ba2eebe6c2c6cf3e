namespace Finetune.Nn.Data;

/// <summary>
/// A seeded split of one file's examples into train, validation and test: a Philox permutation of the rows, the first
/// ⌊n·test⌋ for test, the next ⌊n·validation⌋ for validation, the rest for training, each part in file order.
/// </summary>
public static class DatasetSplit
{
    public static (IReadOnlyList<T> Train, IReadOnlyList<T> Validation, IReadOnlyList<T> Test) Split<T>(
        IReadOnlyList<T> items, double validationFraction, double testFraction, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (validationFraction is < 0 or >= 1 || double.IsNaN(validationFraction))
            throw new ArgumentOutOfRangeException(nameof(validationFraction), validationFraction,
                $"split: the validation fraction must be in [0, 1), got {validationFraction}");
        if (testFraction is < 0 or >= 1 || double.IsNaN(testFraction))
            throw new ArgumentOutOfRangeException(nameof(testFraction), testFraction,
                $"split: the test fraction must be in [0, 1), got {testFraction}");
        int n = items.Count, test = (int)(n * testFraction), validation = (int)(n * validationFraction);
        if (n - test - validation < 1)
            throw new ArgumentException(
                $"split: {n} examples leave none for training after {test} test and {validation} validation examples");
        var order = Permutation.Shuffled(n, seed, stream: 0x5B117);
        List<T> Part(int from, int count) => order.Skip(from).Take(count).Order().Select(i => items[i]).ToList();
        return (Part(test + validation, n - test - validation), Part(test, validation), Part(0, test));
    }
}
