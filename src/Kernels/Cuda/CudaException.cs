namespace Finetune.Kernels.Cuda;

/// <summary>A driver or cuBLAS call failed. The message names the call, the status name and what to do.</summary>
public class CudaException : Exception
{
    public CudaException(string call, int status, string statusName, string? detail = null)
        : base(Compose(call, status, statusName, detail))
    {
        Call = call;
        Status = status;
        StatusName = statusName;
    }

    public string Call { get; }

    public int Status { get; }

    public string StatusName { get; }

    private static string Compose(string call, int status, string statusName, string? detail)
    {
        string hint = statusName.StartsWith("CUDA_", StringComparison.Ordinal) ? CudaStatus.Hint(status) : "";
        var text = $"{call} failed with {statusName} ({status})";
        if (!string.IsNullOrEmpty(detail)) text += $": {detail}";
        if (hint.Length > 0) text += $". To fix: {hint}";
        return text;
    }

    internal static void Check(int status, string call, string? detail = null)
    {
        if (status == CudaStatus.Success) return;
        if (status == CudaStatus.OutOfMemory) throw new CudaOutOfMemoryException(call, detail);
        throw new CudaException(call, status, CudaStatus.DriverName(status), detail);
    }

    internal static void CheckBlas(int status, string call, string? detail = null)
    {
        if (status != 0) throw new CudaException(call, status, CudaStatus.BlasName(status), detail);
    }
}
