using System.Globalization;
using Finetune.Kernels.Cuda.Host;

namespace Finetune.Kernels.Cuda;

/// <summary>
/// Turns a device name (<c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>, <c>host</c>) into a <see cref="Device"/> with its backend
/// registered: what <c>--device</c> means on every command. A CUDA device that cannot be used is a
/// <see cref="CudaUnavailableException"/> naming the missing driver or library, never a quiet CPU fallback.
/// </summary>
public static class DeviceSelection
{
    /// <summary>The names <see cref="Select"/> accepts, for help texts.</summary>
    public const string Names = "cpu | cuda | cuda:N | host";

    /// <summary>What a CLI's --device help says.</summary>
    public const string Help =
        "where to compute: cpu, cuda (GPU 0), cuda:N, or host (kernels.cu on the CPU behind the CUDA backend; slow, for testing)";

    private static readonly object Gate = new();
    private static CudaBackend? _host;

    /// <summary>Registers the backend of <paramref name="name"/> (once per process) and returns its device.</summary>
    /// <param name="hostLibrary">The host device's kernel library; <see cref="HostCudaDriver.DefaultLibraryPath"/> when null.</param>
    public static Device Select(string name, string? hostLibrary = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        var value = name.Trim().ToLowerInvariant();
        if (value == "cpu") return Device.Cpu;
        if (value == "host") return Host(hostLibrary).Device;
        if (value == "cuda" || value.StartsWith("cuda:", StringComparison.Ordinal))
        {
            int ordinal = 0;
            bool numbered = value.Length == 4 || int.TryParse(value[5..], NumberStyles.None, CultureInfo.InvariantCulture, out ordinal);
            if (!numbered)
                throw new ArgumentException($"--device: '{name}' is not a CUDA device; use cuda or cuda:N with N a GPU number ({Names})");
            return Gpu(ordinal).Device;
        }
        throw new ArgumentException($"--device must be one of {Names}, got '{name}'");
    }

    /// <summary>The host device, registered as cuda:0 (its memory capped at the machine's available memory).</summary>
    public static CudaBackend Host(string? hostLibrary = null)
    {
        lock (Gate)
        {
            if (_host is not null) return _host;
            var library = hostLibrary ?? HostCudaDriver.DefaultLibraryPath;
            if (!File.Exists(library))
                throw new CudaUnavailableException(
                    $"the host device's kernels {library} are missing: they are built with the CLI when g++ is installed " +
                    "(apt-get install g++, then rebuild), or by tools/build-host-kernels.sh");
            long memory = Math.Max(1L << 30, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes);
            _host = CudaBackend.CreateHost(Device.Cuda(0), memory, library, new CudaOptions { MaxRowThreads = 32 });
            Backends.Register(_host);
            return _host;
        }
    }

    private static CudaBackend Gpu(int ordinal)
    {
        lock (Gate)
        {
            if (Backends.TryFor(Device.Cuda(ordinal)) is CudaBackend { Driver: Native.NativeCudaDriver } existing) return existing;
            var probe = CudaDevice.Probe(ordinal);
            if (!probe.Available) throw new CudaUnavailableException($"--device cuda:{ordinal}: {probe.Reason}");
            return CudaDevice.TryRegister(out string reason, ordinal)
                ?? throw new CudaUnavailableException($"--device cuda:{ordinal}: {reason}");
        }
    }
}
