using System.Reflection;
using System.Runtime.InteropServices;

namespace Finetune.Kernels.Cuda.Native;

/// <summary>
/// Resolves the logical library names of the bindings to the installed files: the driver is libcuda.so.1;
/// cuBLAS is tried as libcublas.so.13, .12, .11, then libcublas.so, so any recent toolkit's runtime works.
/// </summary>
internal static class CudaLibraries
{
    public const string Driver = "finetune-cuda";
    public const string Blas = "finetune-cublas";

    public static readonly string[] DriverCandidates = { "libcuda.so.1", "libcuda.so" };
    public static readonly string[] BlasCandidates = { "libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so" };

    private static readonly object Gate = new();
    private static bool _installed;
    private static nint _driver, _blas;

    public static void InstallResolver()
    {
        lock (Gate)
        {
            if (_installed) return;
            NativeLibrary.SetDllImportResolver(typeof(CudaLibraries).Assembly, Resolve);
            _installed = true;
        }
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name == Driver) return TryLoadFirst(DriverCandidates, out _driver, out _) ? _driver : 0;
        if (name == Blas) return TryLoadFirst(BlasCandidates, out _blas, out _) ? _blas : 0;
        return 0;
    }

    /// <summary>Loads the first of <paramref name="candidates"/> that exists; otherwise says which were tried.</summary>
    public static bool TryLoadFirst(IReadOnlyList<string> candidates, out nint handle, out string reason)
    {
        foreach (var candidate in candidates)
        {
            if (NativeLibrary.TryLoad(candidate, out handle))
            {
                reason = "";
                return true;
            }
        }
        handle = 0;
        reason = $"none of {string.Join(", ", candidates)} could be loaded";
        return false;
    }
}
