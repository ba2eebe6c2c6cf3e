namespace Finetune.Nn.Data;

/// <summary>
/// Loads a user's dataset for training: the classes come from the training file; validation and test files must use
/// only those classes; a part not given as a file is split from the training file by <see cref="DatasetSplit"/>.
/// </summary>
public static class UserDataset
{
    /// <summary>A CSV/TSV, JSONL or Parquet dataset of texts or sentence pairs.</summary>
    public static DatasetSplits<TextExample> LoadText(DatasetFiles files, TextColumns columns) =>
        Load(files, (path, labels, option) =>
        {
            var (data, map) = TextDataset.FromTable(TableFile.Read(path, option), columns, labels, files.SkipBadRows);
            return (data, map!);
        });

    /// <summary>An image dataset: folders of class folders.</summary>
    public static DatasetSplits<LabeledImage> LoadImages(DatasetFiles files, ImageProcessorConfig processor) =>
        Load(files, (path, labels, option) => ImageFolder.Read(path, processor, labels, files.SkipBadRows, option));

    private static DatasetSplits<T> Load<T>(DatasetFiles files, Func<string, LabelMap?, string, (LoadResult<T> Data, LabelMap Labels)> read)
    {
        ArgumentNullException.ThrowIfNull(files);
        var (train, labels) = read(files.Train, null, "--data");
        var validation = files.Validation is { } v ? read(v, labels, "--validation-data").Data : null;
        var test = files.Test is { } t ? read(t, labels, "--test-data").Data : null;
        var split = DatasetSplit.Split(train.Examples, validation is null ? files.ValidationSplit : 0, test is null ? files.TestSplit : 0,
            files.Seed);
        var parts = new[] { train, validation, test }.OfType<LoadResult<T>>().ToList();
        return new DatasetSplits<T>(
            split.Train, validation?.Examples ?? split.Validation, test?.Examples ?? split.Test, labels,
            parts.Sum(p => p.Skipped), parts.SelectMany(p => p.SkipReasons).Take(LoadResult<T>.ReasonsKept).ToList());
    }
}
