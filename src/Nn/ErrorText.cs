namespace Finetune.Nn;

/// <summary>Exception messages as one line a user can read: no .NET parameter suffix, no "Actual value was" line.</summary>
public static class ErrorText
{
    public static string OneLine(Exception e)
    {
        var line = e.Message.Split('\n')[0].TrimEnd('\r');
        int p = line.LastIndexOf(" (Parameter '", StringComparison.Ordinal);
        return p > 0 && line.EndsWith("')", StringComparison.Ordinal) ? line[..p] : line;
    }
}
