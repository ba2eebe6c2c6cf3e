using Spectre.Console;

namespace Finetune.Cli.Commands;

/// <summary>Turns the errors a user can cause (files, options, missing tools) into one red line and exit code 2.</summary>
internal static class CliErrors
{
    public static int Run(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is ArgumentException or FileNotFoundException or DirectoryNotFoundException or InvalidDataException
                                      or InvalidOperationException or IOException or UnauthorizedAccessException
                                      or TrainingDivergedException)
        {
            AnsiConsole.MarkupLine($"[red]error:[/] {Markup.Escape(e.Message)}");
            return 2;
        }
    }
}
