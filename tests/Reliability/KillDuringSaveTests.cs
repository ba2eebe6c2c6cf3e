using System.Diagnostics;
using Finetune.Nn.IO;
using Finetune.App;

namespace Finetune.Tests.Reliability;

/// <summary>
/// SIGKILLs a process in the middle of FineTuning.Save at several points (the new folder being filled, filled, the old
/// one renamed away) and checks that the folder then loads whole: one save's weights and run file, never a mix, and
/// never older than the last save that returned. The leftovers are gone after recovery.
/// </summary>
public class KillDuringSaveTests
{
    private enum Stage { Filling, WeightsWritten, Filled, Swapping, Anywhere }

    [Test]
    public void Kill_9_during_a_save_leaves_one_whole_model()
    {
        var dir = Directory.CreateTempSubdirectory("finetune-kill-").FullName;
        try
        {
            var hit = new HashSet<Stage>();
            for (int attempt = 0; attempt < 40 && (hit.Count < 4 || attempt < 17); attempt++)
            {
                var want = (Stage)(attempt % 5);
                var model = Path.Combine(dir, $"model-{attempt}");
                var (stage, lastSaved) = RunAndKill(model, want, attempt);
                if (stage is { } s) hit.Add(s);
                CheckWhole(model, lastSaved, stage);
            }
            TestContext.Out.WriteLine($"kill points reached: {string.Join(", ", hit)}");
            Assert.That(hit.Count, Is.GreaterThanOrEqualTo(3), $"kills landed at too few points of the save: {string.Join(", ", hit)}");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Starts the victim, waits for its first save, then kills it when the folder shows <paramref name="want"/>.</summary>
    private static (Stage? Stage, ulong LastSaved) RunAndKill(string model, Stage want, int attempt)
    {
        var victim = Path.Combine(TestContext.CurrentContext.TestDirectory, "SaveVictim.dll");
        var info = new ProcessStartInfo("dotnet", new[] { victim, model }) { RedirectStandardOutput = true, UseShellExecute = false };
        using var p = Process.Start(info)!;
        ulong lastSaved = 0;
        var reader = Task.Run(() =>
        {
            while (p.StandardOutput.ReadLine() is { } line)
                if (line.StartsWith("saved ", StringComparison.Ordinal)) Interlocked.Exchange(ref lastSaved, ulong.Parse(line[6..]));
        });
        var clock = Stopwatch.StartNew();
        while (Interlocked.Read(ref lastSaved) < 1 && clock.Elapsed < TimeSpan.FromSeconds(60)) Thread.Sleep(5);
        Assert.That(Interlocked.Read(ref lastSaved), Is.GreaterThanOrEqualTo(1UL), "the victim never saved");
        string tmp = $"{model}.tmp-{p.Id}", old = $"{model}.old-{p.Id}";
        Stage? seen = null;
        var deadline = Stopwatch.StartNew();
        var delay = TimeSpan.FromMilliseconds(37 * (attempt + 1) % 400);
        while (deadline.Elapsed < TimeSpan.FromSeconds(20))
        {
            Stage? now = Directory.Exists(old) ? Stage.Swapping
                : Directory.Exists(tmp) ? (File.Exists(Path.Combine(tmp, FineTuning.RunFile)) ? Stage.Filled
                    : Directory.Exists(Path.Combine(tmp, FineTuning.AdapterDirectory)) ? Stage.WeightsWritten : Stage.Filling)
                : null;
            if (want == Stage.Anywhere ? deadline.Elapsed >= delay : now == want)
            {
                seen = want == Stage.Anywhere ? now ?? Stage.Anywhere : now;
                break;
            }
        }
        ulong before = Interlocked.Read(ref lastSaved);
        p.Kill();
        p.WaitForExit();
        reader.Wait();
        return (seen, Math.Max(before, 1));
    }

    private static void CheckWhole(string model, ulong lastSaved, object? stage)
    {
        AtomicDirectory.Recover(model);
        var options = FineTuning.ReadOptions(model);
        Assert.That(options.Seed, Is.InRange(lastSaved, lastSaved + 2), $"killed at {stage}: the folder holds save {options.Seed}, the last save seen to finish was {lastSaved} (its output may lag by one)");
        var weights = SafeTensors.Load(Path.Combine(model, FineTuning.AdapterDirectory, "adapter_model.safetensors"));
        try
        {
            foreach (var (name, t) in weights)
                Assert.That(t.ToArray().Distinct(), Is.EqualTo(new[] { (float)options.Seed }), $"killed at {stage}: tensor '{name}' is not from save {options.Seed}");
        }
        finally
        {
            foreach (var t in weights.Values) t.Dispose();
        }
        var parent = Path.GetDirectoryName(model)!;
        var leftovers = Directory.GetDirectories(parent).Where(d => Path.GetFileName(d).StartsWith(Path.GetFileName(model) + ".", StringComparison.Ordinal));
        Assert.That(leftovers, Is.Empty, "leftover temporary folders after recovery");
    }
}
