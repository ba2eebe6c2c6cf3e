using System.Diagnostics;
using System.Text.Json;

namespace Finetune.Tests;

/// <summary>The folders bench/peers/make_hf_fixtures.py writes under tests/fixtures/hf, and their expected.json.</summary>
internal static class HfFixtures
{
    public static string Folder(params string[] parts) =>
        Path.Combine(new[] { TestContext.CurrentContext.TestDirectory, "fixtures", "hf" }.Concat(parts).ToArray());

    public static JsonElement Expected(string folder) => JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "expected.json"))).RootElement;

    /// <summary>A nested JSON array of numbers, flattened row-major, with its shape.</summary>
    public static (float[] Values, int[] Shape) Floats(JsonElement e)
    {
        var shape = new List<int>();
        for (var x = e; x.ValueKind == JsonValueKind.Array; x = x[0]) shape.Add(x.GetArrayLength());
        var values = new List<float>();
        void Walk(JsonElement x)
        {
            if (x.ValueKind == JsonValueKind.Array)
                foreach (var y in x.EnumerateArray()) Walk(y);
            else values.Add(x.GetSingle());
        }
        Walk(e);
        return (values.ToArray(), shape.ToArray());
    }

    public static Tensor Ints(JsonElement e)
    {
        var (v, shape) = Floats(e);
        return Tensor.FromArray(v.Select(f => (int)f).ToArray(), shape);
    }

    public static Tensor FloatTensor(JsonElement e)
    {
        var (v, shape) = Floats(e);
        return Tensor.FromArray(v, shape);
    }

    public static double MaxAbsDiff(float[] a, float[] b)
    {
        Assert.That(a, Has.Length.EqualTo(b.Length));
        return a.Zip(b, (x, y) => (double)Math.Abs(x - y)).Max();
    }

    /// <summary>The repository root (the folder holding Engine.sln) above the test binaries.</summary>
    public static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Engine.sln"))) return d.FullName;
        throw new DirectoryNotFoundException("Engine.sln not found above " + TestContext.CurrentContext.TestDirectory);
    }

    /// <summary>Runs a peer script with Debian's PyTorch; ignores the test with the reason when PyTorch is not installed.</summary>
    public static void RunTorchScript(string script, params string[] args)
    {
        var check = Run("/usr/bin/python3", "-c \"import torch\"", RepositoryRoot());
        if (check.Code != 0) Assert.Ignore("needs Debian's python3-torch (/usr/bin/python3 -c 'import torch' failed): " + check.Output);
        var run = Run("/usr/bin/python3", string.Join(" ", new[] { script }.Concat(args).Select(a => $"\"{a}\"")), Path.Combine(RepositoryRoot(), "bench", "peers"));
        Assert.That(run.Code, Is.Zero, $"{script} failed: {run.Output}");
    }

    private static (int Code, string Output) Run(string file, string arguments, string directory)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(file, arguments)
            {
                RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = directory,
            })!;
            var stderr = p.StandardError.ReadToEndAsync();
            var stdout = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, stdout + stderr.Result);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, e.Message);
        }
    }
}
