namespace Finetune.Cli.Commands;

/// <summary>
/// --output is checked before any work: created when missing and proved writable with a probe file, so a run never
/// trains for an hour and then fails to save (an existing file, /dev/null or a read-only folder is refused at once).
/// </summary>
internal static class OutputFolder
{
    public static void Check(string? path, string option = "--output")
    {
        if (path is null) return;
        if (path.Length == 0) throw new ArgumentException($"{option} is empty, expected a folder");
        string full = Path.GetFullPath(path);
        if (File.Exists(full)) throw new IOException($"{option} '{path}' is a file, expected a folder (created when missing)");
        try
        {
            Directory.CreateDirectory(full);
            var probe = Path.Combine(full, $".finetune-write-test-{Environment.ProcessId}");
            File.WriteAllBytes(probe, new byte[] { 1 });
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{option} '{path}' is not a writable folder: {Nn.ErrorText.OneLine(e)}", e);
        }
    }
}
