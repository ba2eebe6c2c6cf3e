namespace Finetune.Nn.Data;

/// <summary>
/// An image classification dataset as a folder with one subfolder per class (the folder name is the label), each
/// holding image files; hidden files are ignored. Classes are ordered as <see cref="LabelMap.FromLabels"/> orders them,
/// files by name. An undecodable image, or a class folder the classes do not have, stops the read with an error naming
/// the file, or is skipped and counted.
/// </summary>
public static class ImageFolder
{
    /// <param name="labels">The classes; null builds them from this folder's subfolders (the training folder).</param>
    public static (LoadResult<LabeledImage> Data, LabelMap Labels) Read(string root, ImageProcessorConfig processor, LabelMap? labels,
        bool skipBadRows, string option = "--data")
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(processor);
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"{option}: folder '{root}' does not exist");
        var classes = Directory.GetDirectories(root).Where(d => !Path.GetFileName(d).StartsWith('.')).ToList();
        if (classes.Count == 0)
            throw new DataFileException(root, null, null,
                "no class folders; an image dataset holds one folder per class, named after the class, with its images");
        labels ??= LabelMap.FromLabels(classes.Select(Path.GetFileName)!);
        var bad = new BadRows(root, skipBadRows);
        var images = new List<LabeledImage>();
        foreach (var name in labels.Names.Concat(classes.Select(c => Path.GetFileName(c)!).Where(c => !labels.TryGetId(c, out _)).Order(
            StringComparer.Ordinal)))
        {
            var dir = Path.Combine(root, name);
            if (!Directory.Exists(dir)) continue;
            var files = Directory.GetFiles(dir).Where(f => !Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal).ToList();
            if (!labels.TryGetId(name, out int id))
            {
                foreach (var file in files)
                    bad.Report(null, null, $"the class folder {CsvTable.Quote(name)} is not one of the classes {labels}", file);
                continue;
            }
            foreach (var file in files)
            {
                try
                {
                    images.Add(new LabeledImage(ImageDecoder.Decode(File.ReadAllBytes(file), file, processor), id));
                }
                catch (DataFileException e)
                {
                    bad.Report(null, null, e.Problem, file);
                }
            }
        }
        return (bad.Result(images), labels);
    }
}
