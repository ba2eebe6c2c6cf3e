using System.Runtime.InteropServices;

namespace Finetune.Kernels.Cuda.Native;

/// <summary>The CUDA driver API entry points the engine uses (cuda.h, the _v2 ABI where one exists).</summary>
internal static unsafe partial class DriverApi
{
    static DriverApi() => CudaLibraries.InstallResolver();

    public const int AttributeMaxThreadsPerBlock = 1;
    public const int AttributeMemoryClockRate = 36;
    public const int AttributeGlobalMemoryBusWidth = 37;
    public const int AttributeMultiprocessorCount = 16;
    public const int AttributeComputeCapabilityMajor = 75;
    public const int AttributeComputeCapabilityMinor = 76;

    public const int JitInfoLogBuffer = 3;
    public const int JitInfoLogBufferSizeBytes = 4;
    public const int JitErrorLogBuffer = 5;
    public const int JitErrorLogBufferSizeBytes = 6;

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuInit(uint flags);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuDriverGetVersion(out int version);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuGetErrorName(int error, out byte* name);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuDeviceGetCount(out int count);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuDeviceGet(out int device, int ordinal);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuDeviceGetName(byte* name, int length, int device);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuDeviceGetAttribute(out int value, int attribute, int device);

    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuDeviceTotalMem_v2")]
    public static partial int cuDeviceTotalMem(out nuint bytes, int device);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuDevicePrimaryCtxRetain(out nint context, int device);

    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuDevicePrimaryCtxRelease_v2")]
    public static partial int cuDevicePrimaryCtxRelease(int device);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuCtxSetCurrent(nint context);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuCtxSynchronize();

    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuMemAlloc_v2")]
    public static partial int cuMemAlloc(out ulong address, nuint bytes);

    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuMemFree_v2")]
    public static partial int cuMemFree(ulong address);

    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuMemGetInfo_v2")]
    public static partial int cuMemGetInfo(out nuint free, out nuint total);

    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuMemcpyHtoD_v2")]
    public static partial int cuMemcpyHtoD(ulong destination, void* source, nuint bytes);

    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuMemcpyDtoH_v2")]
    public static partial int cuMemcpyDtoH(void* destination, ulong source, nuint bytes);

    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuMemcpyDtoD_v2")]
    public static partial int cuMemcpyDtoD(ulong destination, ulong source, nuint bytes);

    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuMemcpyHtoDAsync_v2")]
    public static partial int cuMemcpyHtoDAsync(ulong destination, void* source, nuint bytes, nint stream);

    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuMemcpyDtoHAsync_v2")]
    public static partial int cuMemcpyDtoHAsync(void* destination, ulong source, nuint bytes, nint stream);

    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuMemsetD32_v2")]
    public static partial int cuMemsetD32(ulong destination, uint value, nuint count);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuModuleLoadDataEx(out nint module, byte* image, uint optionCount, int* options, void** optionValues);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuModuleUnload(nint module);

    [LibraryImport(CudaLibraries.Driver, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int cuModuleGetFunction(out nint function, nint module, string name);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuLaunchKernel(nint function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
        uint sharedBytes, nint stream, void** parameters, void** extra);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuStreamCreate(out nint stream, uint flags);

    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuStreamDestroy_v2")]
    public static partial int cuStreamDestroy(nint stream);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuStreamSynchronize(nint stream);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuEventCreate(out nint evt, uint flags);

    [LibraryImport(CudaLibraries.Driver, EntryPoint = "cuEventDestroy_v2")]
    public static partial int cuEventDestroy(nint evt);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuEventRecord(nint evt, nint stream);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuEventSynchronize(nint evt);

    [LibraryImport(CudaLibraries.Driver)]
    public static partial int cuEventElapsedTime(out float milliseconds, nint start, nint end);

    /// <summary>The driver's own name for a status, falling back to the engine's table.</summary>
    public static string ErrorName(int status)
    {
        if (cuGetErrorName(status, out byte* name) == 0 && name != null)
            return Marshal.PtrToStringUTF8((nint)name) ?? CudaStatus.DriverName(status);
        return CudaStatus.DriverName(status);
    }
}
