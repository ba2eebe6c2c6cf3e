using Finetune.Cli.Commands;

namespace Finetune.Tests.Reliability;

/// <summary>The CLI in-process: user errors are one line and exit 2, with no .NET type names, before any work.</summary>
[NonParallelizable]
public class CliErrorTests
{
    private static (int Code, string Error) Run(params string[] args)
    {
        var previous = Console.Error;
        var error = new StringWriter();
        Console.SetError(error);
        try
        {
            return (Cli.Program.Main(args), error.ToString().TrimEnd());
        }
        finally
        {
            Console.SetError(previous);
        }
    }

    [TestCase(new[] { "train", "--max-steps", "abc" }, "error: --max-steps: 'abc' is not an integer")]
    [TestCase(new[] { "train", "--rank", "0" }, "error: Rank (--rank) is 0, expected an integer in [1, 65536]")]
    [TestCase(new[] { "train", "--rank", "100000" }, "error: Rank (--rank) is 100000, expected an integer in [1, 65536]")]
    [TestCase(new[] { "train", "--rank", "2000" }, "error: --rank is 2000, expected at most 384")]
    [TestCase(new[] { "train", "--method", "ia3", "--rank", "4" }, "error: --rank does not apply to --method ia3")]
    [TestCase(new[] { "train", "--method", "full", "--freeze-layers", "-3" }, "error: FreezeLayers (--freeze-layers) is -3")]
    [TestCase(new[] { "train", "--output", "/dev/null" }, "error: --output '/dev/null' is a file")]
    [TestCase(new[] { "train", "--batch-size", "0" }, "error: --batch-size must be at least 1, got 0")]
    [TestCase(new[] { "train", "--lr", "NaNx" }, "error: --lr: 'NaNx' is not a number")]
    [TestCase(new[] { "train", "--force" }, "error: --force applies only with --resume")]
    public void User_error_is_one_line_with_exit_code_2(string[] args, string start)
    {
        var (code, error) = Run(args);
        Assert.That(code, Is.EqualTo(2));
        Assert.That(error, Does.StartWith(start));
        Assert.That(error, Does.Not.Contain("\n").And.Not.Contain("System.").And.Not.Contain("Parameter '").And.Not.Contain("Actual value"));
    }

    [Test]
    public void Output_that_is_an_existing_file_or_unwritable_fails_before_any_work()
    {
        var file = Path.GetTempFileName();
        try
        {
            var (code, error) = Run("train", "--output", file);
            Assert.That((code, error), Is.EqualTo((2, $"error: --output '{file}' is a file, expected a folder (created when missing)")));
        }
        finally
        {
            File.Delete(file);
        }
        var (c2, e2) = Run("demo", "--output", "/proc/finetune-cannot-write-here");
        Assert.That(c2, Is.EqualTo(2));
        Assert.That(e2, Does.StartWith("error: --output '/proc/finetune-cannot-write-here' is not a writable folder"));
    }

    [Test]
    public void Unexpected_exception_is_one_line_with_a_hint_and_exit_code_1()
    {
        var previous = Console.Error;
        var error = new StringWriter();
        Console.SetError(error);
        int code;
        try
        {
            var parse = new System.CommandLine.RootCommand().Parse(Array.Empty<string>());
            code = CliErrors.Run(parse, () => throw new NullReferenceException("boom"));
        }
        finally
        {
            Console.SetError(previous);
        }
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error.ToString().TrimEnd(), Is.EqualTo("internal error: boom; run with --verbose for the stack trace"));
    }
}
