using System.CommandLine;
using Finetune.Nn;

namespace Finetune.Cli.Commands;

/// <summary>
/// The CLI's one error path. Errors a user can cause (files, options, memory, missing tools) print one red line with
/// no .NET type names and exit 2. Anything else is a bug: one line, the hint to rerun with --verbose for the stack
/// trace, exit 1.
/// </summary>
internal static class CliErrors
{
    public const int UserError = 2, InternalError = 1;

    /// <summary>The global --verbose option: print stack traces of unexpected errors.</summary>
    public static readonly Option<bool> Verbose = new("--verbose") { Description = "print the stack trace of an unexpected error",
        Recursive = true };

    public static int Run(ParseResult r, Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (IsUserError(e))
        {
            Line("error: " + ErrorText.OneLine(e));
            return UserError;
        }
        catch (Exception e)
        {
            var line = "internal error: " + ErrorText.OneLine(e);
            if (r.GetValue(Verbose)) Console.Error.WriteLine(line + Environment.NewLine + e);
            else Line(line + "; run with --verbose for the stack trace");
            return InternalError;
        }
    }

    public static bool IsUserError(Exception e) =>
        e is ArgumentException or FileNotFoundException or DirectoryNotFoundException or InvalidDataException or InvalidOperationException
            or IOException or UnauthorizedAccessException or InsufficientMemoryException or TrainingDivergedException
            or Kernels.Cuda.CudaUnavailableException;

    /// <summary>
    /// Command-line parse errors as one line: "--max-steps: 'abc' is not an integer" instead of System.CommandLine's
    /// "Cannot parse argument ... as expected type 'System.Nullable`1[System.Int32]'".
    /// </summary>
    public static int ParseErrors(ParseResult r)
    {
        var e = r.Errors[0];
        string message = e.Message;
        if (e.SymbolResult is System.CommandLine.Parsing.OptionResult { Option: var option } result && result.Tokens.Count > 0)
        {
            var type = Nullable.GetUnderlyingType(option.ValueType) ?? option.ValueType;
            message = $"{option.Name}: '{result.Tokens[^1].Value}' is not {Describe(type)}";
        }
        Line($"error: {message.Split('\n')[0]} (finetune --help lists the options)");
        return UserError;
    }

    /// <summary>One line on stderr, never wrapped (Spectre.Console would wrap at the console width).</summary>
    private static void Line(string text) => Console.Error.WriteLine(text.ReplaceLineEndings(" "));

    private static string Describe(Type t) =>
        t == typeof(int) || t == typeof(long) ? "an integer"
        : t == typeof(ulong) || t == typeof(uint) ? "a non-negative integer"
        : t == typeof(float) || t == typeof(double) ? "a number"
        : t == typeof(bool) ? "true or false"
        : t.IsEnum ? "one of " + string.Join(", ", Enum.GetNames(t)).ToLowerInvariant()
        : "a valid value";
}
