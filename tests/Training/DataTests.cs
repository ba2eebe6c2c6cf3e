using Finetune.Nn.Data;

namespace Finetune.Tests.Training;

public class DataTests
{
    [Test]
    public void Permutations_depend_only_on_seed_and_stream()
    {
        var a = Permutation.Shuffled(1000, 7, 1);
        Assert.That(Permutation.Shuffled(1000, 7, 1), Is.EqualTo(a));
        Assert.That(Permutation.Shuffled(1000, 7, 2), Is.Not.EqualTo(a));
        Assert.That(a.OrderBy(i => i), Is.EqualTo(Enumerable.Range(0, 1000)));
    }

    [Test]
    public void Loader_resumes_mid_epoch_with_the_same_batches()
    {
        var items = Enumerable.Range(0, 103).ToList();
        var loader = new DataLoader<int>(items, 10, shuffle: true, seed: 3);
        Assert.That(loader.BatchesPerEpoch, Is.EqualTo(11));
        var straight = loader.From(new LoaderPosition(0, 0)).Take(25).ToList();
        var resumed = loader.From(new LoaderPosition(1, 3)).Take(25 - 14).ToList();
        Assert.That(resumed.Select(r => r.Items), Is.EqualTo(straight.Skip(14).Select(r => r.Items)));
        Assert.That(straight[11].Position, Is.EqualTo(new LoaderPosition(1, 0)));
        Assert.That(straight.Take(11).SelectMany(b => b.Items).OrderBy(i => i), Is.EqualTo(items), "one epoch sees every item once");
        Assert.That(straight[0].Items, Is.Not.EqualTo(straight[11].Items), "each epoch has its own order");
    }

    [Test]
    public void Clean_removes_html_line_breaks()
    {
        Assert.That(ImdbReviews.Clean("Great.<br /><br />Really <BR>great!<br/>"), Is.EqualTo("Great. Really great!"));
    }

    [Test]
    public void Malformed_review_files_name_the_file_and_the_record()
    {
        var path = Path.Combine(Path.GetTempPath(), $"reviews-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, "[{\"t\": \"fine\", \"s\": 1}, {\"t\": \"bad\", \"s\": 3}]");
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => ImdbReviews.Load(path))!;
            Assert.That(e.Message, Does.Contain(path).And.Contain("review 1"));
            File.WriteAllText(path, "{not json");
            Assert.That(Assert.Throws<InvalidDataException>(() => ImdbReviews.Load(path))!.Message, Does.Contain("not valid JSON"));
        }
        finally
        {
            File.Delete(path);
        }
        Assert.Throws<FileNotFoundException>(() => ImdbReviews.Load(path));
    }

    [Test]
    public void The_imdb_split_is_deterministic_balanced_and_disjoint()
    {
        var all = ImdbReviews.Load(ImdbReviews.Fetch());
        Assert.That(all, Has.Count.EqualTo(50_000));
        Assert.That(all.Any(r => r.Text.Contains("<br", StringComparison.OrdinalIgnoreCase)), Is.False);
        var split = ImdbReviews.Split(all);
        Assert.That(split.Test, Has.Count.EqualTo(2000));
        Assert.That(split.Validation, Has.Count.EqualTo(1000));
        Assert.That(split.Train, Has.Count.EqualTo(47_000));
        Assert.That(split.Test.Count(r => r.Label == 1) / 2000.0, Is.EqualTo(0.5).Within(0.03));
        var again = ImdbReviews.Split(all);
        Assert.That(again.Test.Select(r => r.Text), Is.EqualTo(split.Test.Select(r => r.Text)));
        var testTexts = split.Test.Select(r => r.Text).ToHashSet();
        // Every review, every pair of parts: the only texts two parts share are reviews the source itself holds twice.
        var duplicated = all.GroupBy(r => r.Text).Where(g => g.Count() > 1).Select(g => g.Key).ToHashSet();
        var validationTexts = split.Validation.Select(r => r.Text).ToHashSet();
        var trainTexts = split.Train.Select(r => r.Text).ToHashSet();
        foreach (var (name, a, b) in new[] { ("train/test", trainTexts, testTexts), ("train/validation", trainTexts, validationTexts),
                     ("validation/test", validationTexts, testTexts) })
        {
            var shared = a.Intersect(b).ToList();
            Assert.That(shared.Where(t => !duplicated.Contains(t)), Is.Empty, $"{name} share a review the source holds once");
        }
        Assert.That(split.Train.Count + split.Validation.Count + split.Test.Count, Is.EqualTo(all.Count), "the parts cover every review once");
    }
}
