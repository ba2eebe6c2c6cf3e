namespace Finetune.Tests.Fuzz;

/// <summary>
/// Every reader under 20,000 mutants per CI run: the only exception that may escape is the reader's documented one
/// naming the file (docs/RELIABILITY.md). `dotnet run -c Release --project bench -- fuzz` runs a million.
/// </summary>
[TestFixture]
public class FuzzTests
{
    public const int CiMutants = 20_000;

    public static IEnumerable<string> Targets => FuzzTargets.All.Select(t => t.Name);

    [TestCaseSource(nameof(Targets))]
    public void Reader_lets_only_its_documented_exception_escape(string name)
    {
        var target = FuzzTargets.Get(name);
        const int mutants = CiMutants;
        var result = Fuzzer.Run(target, mutants, seed: 14);
        TestContext.Out.WriteLine($"{name}: {result.Mutants} mutants, {result.Accepted} accepted, {result.Rejected} rejected, {result.Elapsed.TotalSeconds:F1} s");
        Assert.That(result.Failures.Select(f => $"#{f.Index} {f.Exception}: {f.Message} input {Convert.ToBase64String(f.Input)}"), Is.Empty);
        Assert.That(result.Rejected, Is.GreaterThan(mutants / 10), "the mutator should break most inputs; it barely did");
        if (target.MutantsMaySurvive)
            Assert.That(result.Accepted, Is.GreaterThan(0), "the seeds should survive some mutations (values within range)");
    }

    [TestCaseSource(nameof(Targets))]
    public void Seeds_are_accepted(string name)
    {
        var target = FuzzTargets.Get(name);
        foreach (var seed in target.Seeds) Assert.That(Fuzzer.Check(target, seed), Is.Null);
    }

    /// <summary>
    /// Inputs that once broke a reader, kept under tests/fixtures/fuzz/&lt;reader&gt;/: each is now rejected the documented
    /// way, or, named *.accepted.*, read without error (a null field that now means "the default").
    /// </summary>
    [TestCaseSource(nameof(Regressions))]
    public void Regression_input_is_rejected_with_a_named_error(string name, string file)
    {
        // Some of these once sent a reader into an endless loop: a deadline fails the test instead of hanging CI.
        var check = Task.Run(() => Fuzzer.Check(FuzzTargets.Get(name), File.ReadAllBytes(file)));
        Assert.That(check.Wait(TimeSpan.FromSeconds(60)), Is.True, $"{file}: the reader did not return within 60 s");
        var failure = check.Result;
        if (Path.GetFileName(file).Contains(".accepted.", StringComparison.Ordinal))
        {
            Assert.That(failure, Is.Null, $"{file}: {failure?.Exception}: {failure?.Message}");
            return;
        }
        Assert.That(failure, Is.Not.Null, $"{file} was accepted");
        Assert.That(failure!.Exception, Is.Empty, $"{file}: {failure.Exception}: {failure.Message}");
        TestContext.Out.WriteLine(failure.Message);
    }

    public static IEnumerable<TestCaseData> Regressions()
    {
        var root = Path.Combine(TestContext.CurrentContext.TestDirectory, "fixtures", "fuzz");
        foreach (var target in FuzzTargets.All)
        {
            var dir = Path.Combine(root, target.FixtureFolder);
            if (!Directory.Exists(dir)) continue;
            foreach (var file in Directory.GetFiles(dir).Order())
                yield return new TestCaseData(target.Name, file).SetName($"Regression_{target.Name}_{Path.GetFileName(file)}");
        }
    }
}
