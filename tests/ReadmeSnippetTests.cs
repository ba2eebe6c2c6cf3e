using System.Text.RegularExpressions;
using Finetune.Tests.Cuda;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Finetune.Tests;

/// <summary>Every ```csharp block of README.md compiles as a program, as a newcomer would paste it into a console project.</summary>
public class ReadmeSnippetTests
{
    // What a new console project's ImplicitUsings brings in.
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    private static IEnumerable<TestCaseData> Snippets()
    {
        var readme = File.ReadAllText(Path.Combine(KernelCodeMirrorTests.RepoRoot(), "README.md"));
        var blocks = Regex.Matches(readme, @"```csharp\n(?<code>.*?)```", RegexOptions.Singleline);
        int i = 0;
        foreach (Match block in blocks)
        {
            int line = readme[..block.Index].Count(c => c == '\n') + 1;
            yield return new TestCaseData(block.Groups["code"].Value).SetName($"README snippet {++i} (line {line}) compiles");
        }
    }

    [Test]
    public void The_readme_has_csharp_snippets() => Assert.That(Snippets().Count(), Is.GreaterThanOrEqualTo(2));

    [TestCaseSource(nameof(Snippets))]
    public void Readme_snippet_compiles(string code)
    {
        var parse = new CSharpParseOptions(LanguageVersion.Latest);
        var compilation = CSharpCompilation.Create(
            "ReadmeSnippet",
            new[] { CSharpSyntaxTree.ParseText(ImplicitUsings, parse), CSharpSyntaxTree.ParseText(code, parse) },
            References(),
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.ToString()).ToList();
        Assert.That(errors, Is.Empty, "the snippet as the README shows it:\n" + code);
    }

    /// <summary>The framework and every assembly beside the tests (the engine's, the app layer's and their packages').</summary>
    private static IEnumerable<MetadataReference> References()
    {
        var framework = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        var local = Directory.GetFiles(TestContext.CurrentContext.TestDirectory, "Finetune.*.dll");
        return framework.Concat(local)
            .GroupBy(Path.GetFileName, StringComparer.Ordinal)
            .Select(g => MetadataReference.CreateFromFile(g.First()));
    }
}
