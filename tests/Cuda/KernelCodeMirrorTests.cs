using System.Text.RegularExpressions;
using Finetune.Kernels;

namespace Finetune.Tests.Cuda;

/// <summary>kernels.cu switches on op codes that must equal the C# enums' values: the two lists are checked, not trusted.</summary>
public class KernelCodeMirrorTests
{
    [TestCase("UnaryCode", "U_", typeof(UnaryOp))]
    [TestCase("BinaryCode", "B_", typeof(BinaryOp))]
    public void Kernel_op_codes_mirror_the_csharp_enum(string cudaEnum, string prefix, Type csharpEnum)
    {
        var source = File.ReadAllText(Path.Combine(RepoRoot(), "kernels.cu"));
        var match = Regex.Match(source, @"enum\s+" + cudaEnum + @"\s*\{(?<body>[^}]*)\}");
        Assert.That(match.Success, $"kernels.cu declares enum {cudaEnum}");
        var cuda = match.Groups["body"].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var expected = Enum.GetNames(csharpEnum).Select(n => prefix + Regex.Replace(n, "(?<=[a-z0-9])([A-Z])", "_$1").ToUpperInvariant());
        Assert.That(cuda, Is.EqualTo(expected), $"{cudaEnum} in kernels.cu must list {csharpEnum.Name}'s values in the same order");
    }

    [Test]
    public void Enum_values_are_their_positions()
    {
        // The kernels receive (int)op: an explicit value that skips a number would break the mirror silently.
        foreach (var type in new[] { typeof(UnaryOp), typeof(BinaryOp) })
            Assert.That(Enum.GetValues(type).Cast<object>().Select(Convert.ToInt32), Is.EqualTo(Enumerable.Range(0, Enum.GetNames(type).Length)), type.Name);
    }

    internal static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Engine.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("no Engine.sln above the test directory");
    }
}
