using System.Diagnostics;
using System.Runtime.Intrinsics.X86;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Finetune.Bench;

/// <summary>
/// A long-lived python process running one of the bench/peers scripts that speak JSON lines: the first line sent is
/// {"threads": N}, the answer says ok, the torch version and the BLAS (with the core OpenBLAS picked); then one question,
/// one answer per line. On an AVX-512 machine OpenBLAS is told to use its AVX-512 core (OPENBLAS_CORETYPE=SkylakeX;
/// 0.3.21 knows no Zen 4/5 target), so both sides run AVX-512 code; FINETUNE_OPENBLAS_CORETYPE overrides it.
/// </summary>
public sealed class TorchPeer : IDisposable
{
    private readonly Process? _process;

    private TorchPeer(Process? process, JsonNode? hello, string? error)
    {
        _process = process;
        Ok = hello?["ok"]?.GetValue<bool>() == true;
        Error = error ?? hello?["error"]?.GetValue<string>();
        Version = hello?["torch"]?.GetValue<string>();
        Blas = hello?["blas"]?.GetValue<string>();
    }

    public bool Ok { get; }

    public string? Error { get; }

    public string? Version { get; }

    public string? Blas { get; }

    /// <summary>"PyTorch 1.13 via OpenBLAS ... (core SkylakeX)" or why there is no peer.</summary>
    public string Describe() => Ok ? $"PyTorch {Version} via {Blas}" : $"PyTorch unavailable ({Error})";

    public static TorchPeer Start(string script, int threads)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "peers", script);
        // The pyenv python on PATH may lack torch; Debian's python3-torch lives under /usr/bin/python3.
        var candidates = new[] { Environment.GetEnvironmentVariable("FINETUNE_PYTHON"), "python3", "/usr/bin/python3" }
            .Where(p => !string.IsNullOrEmpty(p)).Distinct().ToList();
        string? lastError = null;
        foreach (var python in candidates)
        {
            Process? p = null;
            try
            {
                var psi = new ProcessStartInfo(python!, [path])
                {
                    RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = false, UseShellExecute = false,
                };
                if (Environment.GetEnvironmentVariable("FINETUNE_OPENBLAS_CORETYPE") is { Length: > 0 } core)
                    psi.Environment["OPENBLAS_CORETYPE"] = core;
                else if (Avx512F.IsSupported)
                    psi.Environment["OPENBLAS_CORETYPE"] = "SkylakeX";
                p = Process.Start(psi)!;
                p.StandardInput.WriteLine(JsonSerializer.Serialize(new { threads }));
                p.StandardInput.Flush();
                var line = p.StandardOutput.ReadLine();
                var hello = line == null ? null : JsonNode.Parse(line);
                if (hello?["ok"]?.GetValue<bool>() == true)
                {
                    var peer = new TorchPeer(p, hello, null);
                    // torch without OpenBLAS links Debian's reference BLAS (about 2 GFLOP/s): every ratio against it is meaningless.
                    if (peer.Blas == "not OpenBLAS")
                        Console.Error.WriteLine("warning: the PyTorch peer runs on the reference BLAS, not OpenBLAS; its times are not a fair "
                            + "peer (apt-get install libopenblas0-pthread)");
                    return peer;
                }
                lastError = $"{python}: {hello?["error"]?.GetValue<string>() ?? "no answer"}";
            }
            catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException or JsonException)
            {
                lastError = $"{python}: {e.Message}";
            }
            try { p?.Kill(); } catch (InvalidOperationException) { }
            p?.Dispose();
        }
        return new TorchPeer(null, null, lastError ?? "no python3 found");
    }

    /// <summary>Sends one question and returns the answer, or null without a peer.</summary>
    public JsonNode? Ask(object question)
    {
        if (_process == null) return null;
        _process.StandardInput.WriteLine(JsonSerializer.Serialize(question));
        _process.StandardInput.Flush();
        var line = _process.StandardOutput.ReadLine();
        return line == null ? null : JsonNode.Parse(line);
    }

    public void Dispose()
    {
        if (_process == null) return;
        try
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(5000)) _process.Kill();
        }
        catch (InvalidOperationException) { }
        _process.Dispose();
    }
}
