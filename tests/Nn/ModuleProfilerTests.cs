using System.Text.Json;
using Finetune.Kernels.Profiling;
using Finetune.Nn;
using Finetune.Peft.Lora;
using PeftApi = Finetune.Peft.PeftModel;

namespace Finetune.Tests.Nn;

/// <summary>The profiler's module view: forwards open scopes named by module paths, backward kernels land in the same scope.</summary>
public class ModuleProfilerTests
{
    private static readonly BertConfig Tiny = new()
    {
        VocabSize = 50, HiddenSize = 16, NumLayers = 2, NumHeads = 4, IntermediateSize = 32, MaxPositions = 20,
        HiddenDropout = 0f, AttentionDropout = 0f,
    };

    /// <summary>One training step of a tiny LoRA BERT (composed or fused) under the profiler.</summary>
    private static List<KernelRecord> ProfiledStep(bool fused, out int forwardCalls) => ProfiledStep(fused, out forwardCalls, out _);

    private static List<KernelRecord> ProfiledStep(bool fused, out int forwardCalls, out HashSet<string> paths)
    {
        using var model = new BertForSequenceClassification(Tiny, 2, generator: new Generator(1));
        PeftApi.Apply(model, new LoraConfig { Rank = 4, Dropout = 0.1f, Fused = fused });
        model.AssignProfilePaths();
        paths = model.NamedModules().Select(m => m.Key).Where(p => p.Length > 0).ToHashSet();
        using var scope = TensorScope.Begin();
        var ids = Tensor.FromArray(new[] { 2, 7, 9, 11, 3, 0, 2, 5, 6, 3, 0, 0 }, 2, 6);
        var mask = Tensor.FromArray(new[] { 1f, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0 }, 2, 6);
        using var profiler = KernelProfiler.Start();
        var loss = model.Forward(ids, mask).CrossEntropy(Tensor.FromArray(new[] { 0, 1 }, 2));
        forwardCalls = profiler.Records.Count;
        loss.Backward();
        return profiler.Records.ToList();
    }

    [Test]
    public void Forward_and_backward_kernels_of_a_lora_B_are_attributed_to_its_path()
    {
        var records = ProfiledStep(fused: false, out int forwardCalls);
        const string path = "bert.encoder.layer.1.attention.self.query.lora_B";
        var forward = records.Take(forwardCalls).Where(r => r.Scope == path).ToList();
        var backward = records.Skip(forwardCalls).Where(r => r.Scope == path).ToList();
        Assert.That(forward.Select(r => r.Kernel), Has.Some.StartsWith("gemm"), "lora_B's forward GEMM");
        Assert.That(backward.Select(r => r.Kernel), Has.Some.StartsWith("gemm"), "lora_B's backward GEMMs come back to its scope");
    }

    [Test]
    public void Fused_lora_kernels_are_attributed_to_the_lora_layer()
    {
        var records = ProfiledStep(fused: true, out _);
        const string path = "bert.encoder.layer.0.attention.self.value";
        var kernels = records.Where(r => r.Scope == path).Select(r => r.Kernel).ToList();
        Assert.That(kernels, Does.Contain("lora_down").And.Contain("gemm_lora_up").And.Contain("lora_up_backward").And.Contain("lora_down_backward"));
    }

    [Test]
    public void Attribution_sums_to_the_total_and_scopes_are_module_paths_that_nest()
    {
        var records = ProfiledStep(fused: false, out _, out var paths);
        double total = records.Sum(r => r.Milliseconds);
        double byScope = records.GroupBy(r => r.Scope).Sum(g => g.Sum(r => r.Milliseconds));
        Assert.That(byScope, Is.EqualTo(total).Within(1e-9 * Math.Max(1, total)));
        var scopes = records.Select(r => r.Scope).Where(s => s.Length > 0).Distinct().ToList();
        Assert.That(scopes, Is.Not.Empty);
        foreach (var s in scopes)
        {
            Assert.That(s == "model" || paths.Contains(s), $"'{s}' is the model or one of its module paths");
            // Every dotted prefix of a module path is a module too (the scope it ran inside).
            for (int dot = s.IndexOf('.'); dot > 0; dot = s.IndexOf('.', dot + 1))
                Assert.That(paths.Contains(s[..dot]), $"the parent '{s[..dot]}' of '{s}' is a module");
        }
        Assert.That(records.Count(r => r.Scope.Length == 0), Is.LessThan(records.Count / 4), "most kernels run inside a module scope");
    }

    [Test]
    public void Chrome_trace_is_valid_trace_event_json()
    {
        var records = ProfiledStep(fused: true, out _);
        Assert.That(records, Is.Not.Empty);
        using var model = new BertForSequenceClassification(Tiny, 2, generator: new Generator(1));
        model.AssignProfilePaths();
        using var scope = TensorScope.Begin();
        using var profiler = KernelProfiler.Start();
        model.Forward(Tensor.FromArray(new[] { 2, 7, 3 }, 1, 3), Tensor.FromArray(new[] { 1f, 1, 1 }, 1, 3));
        using var doc = JsonDocument.Parse(profiler.ToChromeTrace());
        var events = doc.RootElement.GetProperty("traceEvents");
        Assert.That(events.GetArrayLength(), Is.EqualTo(profiler.Records.Count));
        foreach (var e in events.EnumerateArray())
        {
            Assert.That(e.GetProperty("ph").GetString(), Is.EqualTo("X"));
            Assert.That(e.GetProperty("dur").GetDouble(), Is.GreaterThanOrEqualTo(0));
            Assert.That(e.GetProperty("ts").GetDouble(), Is.GreaterThanOrEqualTo(0));
            Assert.That(e.GetProperty("name").GetString(), Is.Not.Empty);
        }
    }

    [Test]
    public void Without_paths_or_without_a_profiler_no_scope_is_opened()
    {
        using var model = new BertForSequenceClassification(Tiny, 2, generator: new Generator(1));
        using var scope = TensorScope.Begin();
        using (var profiler = KernelProfiler.Start())
        {
            model.Forward(Tensor.FromArray(new[] { 2, 7, 3 }, 1, 3), Tensor.FromArray(new[] { 1f, 1, 1 }, 1, 3));
            Assert.That(profiler.Records.Select(r => r.Scope), Is.All.Empty, "paths were never assigned");
        }
        model.AssignProfilePaths();
        model.Forward(Tensor.FromArray(new[] { 2, 7, 3 }, 1, 3), Tensor.FromArray(new[] { 1f, 1, 1 }, 1, 3));
        Assert.That(KernelProfiler.CurrentScope, Is.Empty, "no profiler: nothing was pushed");
    }

    [Test]
    public void Report_lists_modules_and_kernels_with_their_share_of_the_roofline()
    {
        var records = ProfiledStep(fused: true, out _);
        var roofline = new Finetune.App.Roofline(Device.Cpu, PeakGflops: 100, PeakGBs: 10);
        string text = Finetune.App.ProfileReport.Format(records, roofline);
        Assert.That(text, Does.Contain("bert.encoder.layer.0.attention.self.value").And.Contain("lora_down").And.Contain("% roof"));
        // A kernel doing 1 GFLOP over 1 GB (intensity 1) is bandwidth bound at 10 GFLOP/s: 1 s is 10 % of that.
        Assert.That(roofline.Percent(1e9, 1e9, 1000), Is.EqualTo(10).Within(1e-9));
        Assert.That(roofline.Percent(0, 5e9, 1000), Is.EqualTo(50).Within(1e-9), "no FLOPs: share of the bandwidth");
    }
}
