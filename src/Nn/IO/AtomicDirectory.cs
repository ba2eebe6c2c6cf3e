using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Finetune.Nn.IO;

/// <summary>
/// A folder written as a whole, so files of two saves never mix: it is filled under <c>&lt;name&gt;.tmp-&lt;pid&gt;</c>
/// beside the target, the previous folder is renamed to <c>&lt;name&gt;.old-&lt;pid&gt;</c>, the new one is renamed into
/// place and the old one deleted. A kill at any point leaves either the previous folder or the new one once
/// <see cref="Recover"/> has run (every save and every start of a run calls it): a missing target gets its
/// <c>.old</c> folder back, and the leftovers of processes that are no longer running are removed.
/// </summary>
public static partial class AtomicDirectory
{
    public static void Write(string directory, Action<string> fill)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(fill);
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        if (File.Exists(full)) throw new IOException($"{full}: is a file, expected a folder to save into");
        Recover(full);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var tmp = Sibling(full, "tmp", Environment.ProcessId);
        if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        Directory.CreateDirectory(tmp);
        try
        {
            fill(tmp);
        }
        catch
        {
            Directory.Delete(tmp, recursive: true);
            throw;
        }
        string? old = null;
        if (Directory.Exists(full))
        {
            old = Sibling(full, "old", Environment.ProcessId);
            if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
            Directory.Move(full, old);
        }
        Directory.Move(tmp, full);
        if (old is not null) Directory.Delete(old, recursive: true);
    }

    /// <summary>Repairs what a killed save of <paramref name="directory"/> left; returns the number of folders removed or
    /// restored.</summary>
    public static int Recover(string directory)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        var parent = Path.GetDirectoryName(full);
        if (parent is null || !Directory.Exists(parent)) return 0;
        var name = Path.GetFileName(full);
        var leftovers = new List<(string Path, string Kind, int Pid)>();
        foreach (var d in Directory.EnumerateDirectories(parent, name + ".*-*"))
        {
            var m = LeftoverName().Match(Path.GetFileName(d));
            if (m.Success && m.Groups[1].Value == name && (int.TryParse(m.Groups[3].Value, out int pid)) && !IsOtherLiveProcess(pid))
                leftovers.Add((d, m.Groups[2].Value, pid));
        }
        int changed = 0;
        // Killed between the two renames: the previous folder is whole, so it comes back.
        if (!Directory.Exists(full) && leftovers.FirstOrDefault(l => l.Kind == "old") is { Path: not null } old)
        {
            Directory.Move(old.Path, full);
            leftovers.Remove(old);
            changed++;
        }
        foreach (var (path, _, _) in leftovers)
        {
            Directory.Delete(path, recursive: true);
            changed++;
        }
        return changed;
    }

    /// <summary>Runs <see cref="Recover"/> for every saved folder under <paramref name="parent"/> that has leftovers (e.g.
    /// checkpoint-N.tmp-PID).</summary>
    public static int RecoverAll(string parent)
    {
        if (!Directory.Exists(parent)) return 0;
        var targets = Directory.EnumerateDirectories(parent)
            .Select(d => LeftoverName().Match(Path.GetFileName(d)))
            .Where(m => m.Success)
            .Select(m => Path.Combine(parent, m.Groups[1].Value))
            .Distinct(StringComparer.Ordinal)
            .ToList();
        return targets.Sum(Recover);
    }

    private static string Sibling(string full, string kind, int pid) => $"{full}.{kind}-{pid}";

    private static bool IsOtherLiveProcess(int pid)
    {
        if (pid == Environment.ProcessId) return false;
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    [GeneratedRegex(@"^(.+)\.(tmp|old)-(\d{1,9})$")]
    private static partial Regex LeftoverName();
}
