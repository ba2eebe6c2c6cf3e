using Finetune.Kernels.Cpu;

namespace Finetune.Kernels;

/// <summary>Maps a device to the backend that owns its memory. The CPU is always present; CUDA registers itself.</summary>
public static class Backends
{
    private static readonly Dictionary<Device, IBackend> Registered = new() { [Device.Cpu] = CpuBackend.Instance };

    public static void Register(IBackend backend)
    {
        lock (Registered) Registered[backend.Device] = backend;
    }

    /// <summary>The backend registered for <paramref name="device"/>, or null.</summary>
    public static IBackend? TryFor(Device device)
    {
        lock (Registered) return Registered.GetValueOrDefault(device);
    }

    public static IBackend For(Device device)
    {
        lock (Registered)
        {
            if (Registered.TryGetValue(device, out var backend)) return backend;
        }
        throw new InvalidOperationException($"No backend for device {device}: it is not available on this machine");
    }
}
