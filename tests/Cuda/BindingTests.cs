using System.Reflection;
using System.Runtime.InteropServices;
using Finetune.Kernels.Cuda.Native;

namespace Finetune.Tests.Cuda;

/// <summary>
/// Every LibraryImport entry point exists in the installed driver and cuBLAS (a misspelt name or a wrong _v2
/// suffix would otherwise only show on a GPU machine). Ignored where the libraries are not installed.
/// </summary>
public class BindingTests
{
    private static void AssertExports(Type api, IReadOnlyList<string> candidates, string library)
    {
        if (!CudaLibraries.TryLoadFirst(candidates, out nint handle, out string reason)) Assert.Ignore($"{library} not installed: {reason}");
        var imports = api.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)
            .Select(m => (Method: m, Import: m.GetCustomAttribute<LibraryImportAttribute>()))
            .Where(x => x.Import is not null)
            .ToList();
        Assert.That(imports, Is.Not.Empty);
        var missing = imports.Select(x => x.Import!.EntryPoint ?? x.Method.Name).Where(name => !NativeLibrary.TryGetExport(handle, name, out _)).ToList();
        Assert.That(missing, Is.Empty, $"entry points missing from {library}");
    }

    [Test]
    public void Driver_entry_points_exist_in_libcuda() => AssertExports(typeof(DriverApi), CudaLibraries.DriverCandidates, "libcuda");

    [Test]
    public void Cublas_entry_points_exist_in_libcublas() => AssertExports(typeof(CublasApi), CudaLibraries.BlasCandidates, "libcublas");
}
