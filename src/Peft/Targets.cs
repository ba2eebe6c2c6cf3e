
namespace Finetune.Peft;

/// <summary>Which modules a target list selects.</summary>
public static class Targets
{
    /// <summary>
    /// True when some name equals <paramref name="path"/> or is a suffix of it after a dot ("query" matches every
    /// <c>…attention.self.query</c>). Names may hold globs: <c>*</c> any run without dots ("layer.*.output.dense" is the
    /// feed-forward output but not <c>attention.output.dense</c>).
    /// </summary>
    public static bool Matches(string path, IReadOnlyList<string> names)
    {
        foreach (var t in names)
        {
            if (t.Contains('*') || t.Contains('?'))
            {
                var body = Nn.Module.GlobToRegex(t).ToString()[1..^1];
                if (System.Text.RegularExpressions.Regex.IsMatch(path, $"(?:^|\\.){body}$")) return true;
            }
            else if (path == t || path.EndsWith("." + t, StringComparison.Ordinal)) return true;
        }
        return false;
    }
}
