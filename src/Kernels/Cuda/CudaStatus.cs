namespace Finetune.Kernels.Cuda;

/// <summary>Status names of the driver API (CUresult) and cuBLAS (cublasStatus_t) for the codes the engine can meet.</summary>
public static class CudaStatus
{
    public const int Success = 0;
    public const int InvalidValue = 1;
    public const int OutOfMemory = 2;
    public const int NotInitialized = 3;
    public const int NoDevice = 100;
    public const int InvalidImage = 200;
    public const int InvalidPtx = 218;
    public const int NotFound = 500;
    public const int LaunchFailed = 719;

    private static readonly Dictionary<int, string> DriverNames = new()
    {
        [0] = "CUDA_SUCCESS", [1] = "CUDA_ERROR_INVALID_VALUE", [2] = "CUDA_ERROR_OUT_OF_MEMORY",
        [3] = "CUDA_ERROR_NOT_INITIALIZED", [4] = "CUDA_ERROR_DEINITIALIZED", [34] = "CUDA_ERROR_STUB_LIBRARY",
        [35] = "CUDA_ERROR_INSUFFICIENT_DRIVER", [46] = "CUDA_ERROR_DEVICE_UNAVAILABLE", [100] = "CUDA_ERROR_NO_DEVICE",
        [101] = "CUDA_ERROR_INVALID_DEVICE", [200] = "CUDA_ERROR_INVALID_IMAGE", [201] = "CUDA_ERROR_INVALID_CONTEXT",
        [209] = "CUDA_ERROR_NO_BINARY_FOR_GPU", [218] = "CUDA_ERROR_INVALID_PTX", [221] = "CUDA_ERROR_JIT_COMPILER_NOT_FOUND",
        [222] = "CUDA_ERROR_UNSUPPORTED_PTX_VERSION", [300] = "CUDA_ERROR_INVALID_SOURCE", [400] = "CUDA_ERROR_INVALID_HANDLE",
        [500] = "CUDA_ERROR_NOT_FOUND", [600] = "CUDA_ERROR_NOT_READY", [700] = "CUDA_ERROR_ILLEGAL_ADDRESS",
        [701] = "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", [702] = "CUDA_ERROR_LAUNCH_TIMEOUT", [715] = "CUDA_ERROR_ILLEGAL_INSTRUCTION",
        [716] = "CUDA_ERROR_MISALIGNED_ADDRESS", [719] = "CUDA_ERROR_LAUNCH_FAILED", [801] = "CUDA_ERROR_NOT_SUPPORTED",
        [999] = "CUDA_ERROR_UNKNOWN",
    };

    private static readonly Dictionary<int, string> BlasNames = new()
    {
        [0] = "CUBLAS_STATUS_SUCCESS", [1] = "CUBLAS_STATUS_NOT_INITIALIZED", [3] = "CUBLAS_STATUS_ALLOC_FAILED",
        [7] = "CUBLAS_STATUS_INVALID_VALUE", [8] = "CUBLAS_STATUS_ARCH_MISMATCH", [11] = "CUBLAS_STATUS_MAPPING_ERROR",
        [13] = "CUBLAS_STATUS_EXECUTION_FAILED", [14] = "CUBLAS_STATUS_INTERNAL_ERROR", [15] = "CUBLAS_STATUS_NOT_SUPPORTED",
        [16] = "CUBLAS_STATUS_LICENSE_ERROR",
    };

    public static string DriverName(int code) => DriverNames.TryGetValue(code, out var n) ? n : $"CUresult {code}";

    public static string BlasName(int code) => BlasNames.TryGetValue(code, out var n) ? n : $"cublasStatus {code}";

    /// <summary>What a user can do about a status, where there is something to say.</summary>
    internal static string Hint(int code) => code switch
    {
        OutOfMemory => "free tensors (dispose them or end their TensorScope), empty the allocator cache or use a smaller batch",
        NoDevice => "no CUDA-capable GPU is visible: check nvidia-smi and CUDA_VISIBLE_DEVICES",
        35 => "the NVIDIA driver is older than this code needs: update the driver",
        34 => "libcuda.so.1 is the toolkit's stub, not the driver: install the NVIDIA driver",
        InvalidValue => "an argument is out of range (for launches: block size, grid size or shared memory)",
        InvalidPtx or InvalidImage or 222 => "the embedded PTX does not load: regenerate it with tools/build-ptx.sh and rebuild",
        LaunchFailed or 700 or 715 or 716 => "a kernel faulted; the context is unusable: restart the process",
        _ => "",
    };
}
