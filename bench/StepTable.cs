using System.Diagnostics;
using System.Text.Json.Nodes;
using Finetune.App;
using Finetune.Kernels;
using Finetune.Kernels.Cpu;
using Finetune.Kernels.Cuda;
using Finetune.Kernels.Profiling;
using Finetune.Nn;
using Finetune.Nn.IO;
using Finetune.Nn.Optim;
using Finetune.Nn.Training;
using Finetune.Peft;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Finetune.Bench;

/// <summary>
/// One MiniLM training step (forward, cross-entropy, backward, AdamW) with LoRA and with full fine-tuning, and an
/// eval-mode forward, beside the PyTorch peer (bench/peers/bert_step_torch.py) and ONNX Runtime on the same batch.
/// Rounds alternate engine and peers so background load hits both; each side keeps its best median.
/// </summary>
public static class StepTable
{
    public static int Run(string[] args)
    {
        int batch = Arg(args, "--batch", 8), seq = Arg(args, "--seq", 128), reps = Arg(args, "--reps", 5), threads = Arg(args, "--threads", 2), rounds = Arg(args, "--rounds", 2);
        CpuParallel.Threads = threads;
        int deviceArg = Array.IndexOf(args, "--device");
        var device = DeviceSelection.Select(deviceArg >= 0 && deviceArg + 1 < args.Length ? args[deviceArg + 1] : "cpu");
        var ids = new int[batch * seq];
        var rng = new Random(0);
        for (int i = 0; i < ids.Length; i++) ids[i] = rng.Next(1000, 20000);
        var ours = new Dictionary<string, double>();
        var peer = new Dictionary<string, double>();
        void Keep(Dictionary<string, double> d, string k, double v) => d[k] = d.TryGetValue(k, out var old) ? Math.Min(old, v) : v;
        int profile = Array.IndexOf(args, "--profile");
        if (profile >= 0)
        {
            // One step of the named measure under the kernel profiler, after two warm-up steps.
            var what = profile + 1 < args.Length ? args[profile + 1] : "forward";
            double Profiled(Action step)
            {
                step();
                step();
                using var profiler = KernelProfiler.Start();
                var clock = Stopwatch.StartNew();
                step();
                Console.WriteLine($"{what}, batch {batch} × {seq} tokens, {threads} threads: {clock.Elapsed.TotalMilliseconds:F1} ms wall");
                Console.WriteLine(profiler.Summary());
                return clock.Elapsed.TotalSeconds;
            }
            bool fused = !args.Contains("--unfused");
            _ = what == "forward"
                ? EngineForward(device, ids, batch, seq, Profiled, fused)
                : EngineStep(new FineTuneOptions { Method = what, Device = device, Unfused = !fused }, ids, batch, seq, Profiled);
            return 0;
        }
        double Timed(Action step) => Median(reps, step);
        if (args.Contains("--epilogues"))
            return CompareEpilogues(device, ids, batch, seq, threads, rounds, Timed);
        string torchName = "PyTorch (unavailable)";
        for (int round = 0; round < rounds; round++)
        {
            Keep(ours, "lora_step_s", EngineStep(new FineTuneOptions { Method = "lora", Device = device }, ids, batch, seq, Timed));
            Keep(ours, "full_step_s", EngineStep(new FineTuneOptions { Method = "full", Device = device }, ids, batch, seq, Timed));
            Keep(ours, "forward_s", EngineForward(device, ids, batch, seq, Timed));
            // The peers run on the CPU: beside another device they compare nothing (tools/gpu-run.sh has the GPU peers).
            if (device != Device.Cpu) continue;
            Keep(peer, "ort_forward_s", OrtForward(ids, batch, seq, reps, threads));
            var torch = TorchPeer(batch, seq, reps, threads);
            if (torch is not null) torchName = $"PyTorch {torch["torch"]}";
            if (torch is not null)
                foreach (var k in new[] { "lora_step_s", "full_step_s", "forward_s" }) Keep(peer, "torch_" + k, torch[k]!.GetValue<double>());
        }
        Console.WriteLine($"MiniLM-L6 (hidden 384, 6 layers) on {device} ({Backends.For(device).Name}), batch {batch} × {seq} tokens, {threads} threads, median of {reps} after warm-up, best of {rounds} rounds");
        Console.WriteLine($"{"measure",-26} {"engine",10} {"peer",10} {"peer is",-22} {"engine / peer",14}");
        void Row(string name, string key, string peerKey, string peerName)
        {
            string p = peer.TryGetValue(peerKey, out var pv) ? $"{pv:F3} s" : "n/a";
            string ratio = peer.TryGetValue(peerKey, out pv) ? $"{ours[key] / pv:F2}×" : "-";
            Console.WriteLine($"{name,-26} {ours[key],8:F3} s {p,10} {peerName,-22} {ratio,14}");
        }
        // The peers name their own versions: the torch peer reports torch.__version__, ONNX Runtime its native library's.
        string ortName = $"ONNX Runtime {OrtEnv.Instance().GetVersionString()}";
        Row("LoRA training step", "lora_step_s", "torch_lora_step_s", torchName);
        Row("full training step", "full_step_s", "torch_full_step_s", torchName);
        Row("forward (eval, no grad)", "forward_s", "ort_forward_s", ortName);
        Row("forward (eval, no grad)", "forward_s", "torch_forward_s", torchName);
        return 0;
    }

    /// <summary>
    /// The encoder's GEMM epilogues fused and composed (LoRA stays fused in both), alternating within each round so load hits
    /// both sides; each keeps its best median.
    /// </summary>
    private static int CompareEpilogues(Device device, int[] ids, int batch, int seq, int threads, int rounds, Func<Action, double> timed)
    {
        var best = new Dictionary<string, double>();
        void Keep(string k, double v) => best[k] = best.TryGetValue(k, out var old) ? Math.Min(old, v) : v;
        foreach (int round in Enumerable.Range(0, rounds))
            foreach (bool fused in new[] { true, false })
            {
                string side = fused ? "fused" : "composed";
                foreach (var method in new[] { "lora", "full" })
                    Keep($"{method} {side}", EngineStep(new FineTuneOptions { Method = method, Device = device }, ids, batch, seq, step =>
                    {
                        SetEpilogues(step.Prepared.Model, fused);
                        return timed(step.Run);
                    }));
                Keep($"forward {side}", EngineForward(device, ids, batch, seq, timed, fused));
            }
        Console.WriteLine($"MiniLM-L6 on {device}, batch {batch} × {seq} tokens, {threads} threads, GEMM epilogues fused vs composed, "
            + $"best of {rounds} rounds");
        Console.WriteLine("| measure | fused | composed | composed / fused |");
        Console.WriteLine("|---|---|---|---|");
        var rows = new[] { ("LoRA training step", "lora"), ("full training step", "full"), ("forward (eval, no grad)", "forward") };
        foreach (var (name, key) in rows)
            Console.WriteLine($"| {name} | {best[key + " fused"]:F3} s | {best[key + " composed"]:F3} s | "
                + $"{best[key + " composed"] / best[key + " fused"]:F2}× |");
        return 0;
    }

    private static void SetEpilogues(Module model, bool fused)
    {
        foreach (var (_, m) in model.NamedModules())
            if (m is BertEncoder encoder) encoder.FusedEpilogues = fused;
    }

    private static int Arg(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : fallback;
    }

    private static double Median(int reps, Action step)
    {
        step();
        step();
        var times = new List<double>();
        for (int r = 0; r < reps; r++)
        {
            var clock = Stopwatch.StartNew();
            step();
            times.Add(clock.Elapsed.TotalSeconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }

    /// <summary>Builds MiniLM with <paramref name="options"/> and hands <paramref name="measure"/> one training step to time.</summary>
    internal static double EngineStep(FineTuneOptions options, int[] ids, int batch, int seq, Func<Action, double> measure) =>
        EngineStep(options, ids, batch, seq, step => measure(step.Run));

    private static double EngineStep(FineTuneOptions options, int[] ids, int batch, int seq, Func<TrainingStep, double> measure)
    {
        using var step = new TrainingStep(options, batch, seq);
        return measure(step);
    }

    internal static double EngineForward(Device device, int[] ids, int batch, int seq, Func<Action, double> measure, bool fused = true,
        bool fusedAttention = true)
    {
        using var encoder = MiniLm.LoadModel();
        encoder.Encoder.FusedEpilogues = fused;
        BertSelfAttention.SetFused(encoder, fusedAttention);
        encoder.To(device);
        encoder.Eval();
        var mask = Enumerable.Repeat(1f, ids.Length).ToArray();
        return measure(() =>
        {
            using var scope = TensorScope.Begin();
            using var noGrad = GradMode.NoGrad();
            encoder.Forward(Tensor.FromArray(ids, new[] { batch, seq }, device), Tensor.FromArray(mask, new[] { batch, seq }, device));
            Backends.For(device).Synchronize();
        });
    }

    private static double OrtForward(int[] ids, int batch, int seq, int reps, int threads)
    {
        using var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        using var onnx = MiniLm.OpenOnnx();
        using var memory = new MemoryStream();
        onnx.CopyTo(memory);
        using var session = new InferenceSession(memory.ToArray(), options);
        var dims = new[] { batch, seq };
        var inputs = new List<NamedOnnxValue>
        {
            NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(ids.Select(i => (long)i).ToArray(), dims)),
            NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(Enumerable.Repeat(1L, ids.Length).ToArray(), dims)),
            NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensor<long>(new long[ids.Length], dims)),
        };
        return Median(reps, () =>
        {
            using var results = session.Run(inputs);
        });
    }

    private static JsonObject? TorchPeer(int batch, int seq, int reps, int threads)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "peers", "bert_step_torch.py");
        var start = new ProcessStartInfo("/usr/bin/python3", $"\"{script}\" {batch} {seq} {reps} {threads}") { RedirectStandardOutput = true, RedirectStandardError = true };
        try
        {
            using var p = Process.Start(start)!;
            var stdout = p.StandardOutput.ReadToEnd();
            var stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0)
            {
                Console.Error.WriteLine($"PyTorch peer failed ({p.ExitCode}): {stderr.Trim()}");
                return null;
            }
            return JsonNode.Parse(stdout)!.AsObject();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Console.Error.WriteLine($"PyTorch peer unavailable: /usr/bin/python3 not found ({e.Message}); apt-get install python3-torch");
            return null;
        }
    }
}
