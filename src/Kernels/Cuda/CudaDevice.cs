using Finetune.Kernels.Cuda.Native;

namespace Finetune.Kernels.Cuda;

/// <summary>Finds the real GPU and registers its backend; the CPU keeps working whatever the outcome.</summary>
public static class CudaDevice
{
    /// <summary>Probes GPU <paramref name="ordinal"/> through the driver without registering anything.</summary>
    public static CudaAvailability Probe(int ordinal = 0) => Probe(CudaLibraries.DriverCandidates, ordinal);

    /// <summary>Probe with an explicit list of driver library names (tests point it at a library that does not exist).</summary>
    public static CudaAvailability Probe(IReadOnlyList<string> driverLibraries, int ordinal = 0)
    {
        if (!CudaLibraries.TryLoadFirst(driverLibraries, out _, out string missing))
            return new CudaAvailability(false, CudaUnavailableException.MissingDriver(missing), null);
        try
        {
            using var driver = new NativeCudaDriver(ordinal);
            return new CudaAvailability(true, "", driver.Info);
        }
        catch (CudaUnavailableException e)
        {
            return new CudaAvailability(false, e.Reason, null);
        }
        catch (CudaException e)
        {
            return new CudaAvailability(false, e.Message, null);
        }
    }

    /// <summary>Creates the GPU backend and registers it as <c>cuda:ordinal</c>; null with the reason when there is no usable
    /// GPU.</summary>
    public static CudaBackend? TryRegister(out string reason, int ordinal = 0, CudaOptions? options = null)
    {
        var probe = Probe(ordinal);
        if (!probe.Available)
        {
            reason = probe.Reason;
            return null;
        }
        var backend = CudaBackend.CreateNative(ordinal, options);
        Backends.Register(backend);
        reason = "";
        return backend;
    }
}
