using System.Globalization;
using Finetune.App;
using Finetune.Kernels;
using Finetune.Kernels.Cuda;

// finetune-gpu-check [--scale X] [--iterations N] [--host LIBRARY.so]
// --host runs the same table on the host device (kernels.cu built for the CPU) to try the tool without a GPU.
double scale = 1.0;
int iterations = 20;
string? host = null;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--scale" when i + 1 < args.Length: scale = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--iterations" when i + 1 < args.Length: iterations = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--host" when i + 1 < args.Length: host = args[++i]; break;
        default:
            Console.Error.WriteLine("usage: finetune-gpu-check [--scale X] [--iterations N] [--host LIBRARY.so]");
            return 64;
    }
}
if (host is null) return GpuCheck.Run(Console.Out, null, scale, iterations);
using var backend = CudaBackend.CreateHost(Device.Cuda(0), 8L << 30, host);
return GpuCheck.Run(Console.Out, backend, scale, iterations);
