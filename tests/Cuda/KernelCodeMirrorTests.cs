using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Finetune.Kernels;

namespace Finetune.Tests.Cuda;

/// <summary>kernels.cu switches on op codes that must equal the C# enums' values, and takes structs by value that must lay out as
/// the C# ones: the two sides are checked, not trusted.</summary>
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

    [Test]
    public void Attention_shape_struct_mirrors_the_csharp_record()
    {
        // Passed by value to the attention kernels: a field out of order would read the wrong numbers, not fail.
        var source = File.ReadAllText(Path.Combine(RepoRoot(), "kernels.cu"));
        var cTypes = new Dictionary<string, Type> { ["int"] = typeof(int), ["float"] = typeof(float), ["long long"] = typeof(long) };
        List<Type> CFields(string name)
        {
            var body = Regex.Match(source, @"struct\s+" + name + @"\s*\{(?<body>[^}]*)\}");
            Assert.That(body.Success, $"kernels.cu declares struct {name}");
            var fields = new List<Type>();
            var declarations = body.Groups["body"].Value.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            foreach (var declaration in declarations)
            {
                var m = Regex.Match(declaration, @"^(?<type>long long|int|float|\w+)\s+(?<names>.+)$");
                int count = m.Groups["names"].Value.Split(',').Length;
                string type = m.Groups["type"].Value;
                for (int i = 0; i < count; i++)
                    if (cTypes.TryGetValue(type, out var t)) fields.Add(t);
                    else fields.AddRange(CFields(type));
            }
            return fields;
        }
        List<Type> CsFields(Type type) => type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
            .SelectMany(f => f.FieldType.IsPrimitive ? new List<Type> { f.FieldType } : CsFields(f.FieldType)).ToList();
        Assert.That(CFields("AttentionShape"), Is.EqualTo(CsFields(typeof(AttentionShape))));
        Assert.That(Marshal.SizeOf<AttentionShape>(), Is.EqualTo(8 * 4 + 4 * 3 * 8), "no padding the C struct lacks");
    }

    internal static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Engine.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("no Engine.sln above the test directory");
    }
}
