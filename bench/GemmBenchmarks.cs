using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using Finetune.Kernels.Cpu;

namespace Finetune.Bench;

/// <summary>BenchmarkDotNet view of the packed SGEMM for a few sizes and transposes (the side-by-side table is `gemm`).</summary>
[MemoryDiagnoser]
public unsafe class GemmBenchmarks
{
    private float* _a, _b, _c;

    [Params(256, 1024)]
    public int N { get; set; }

    [Params(false, true)]
    public bool TransB { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        long size = (long)N * N;
        _a = (float*)NativeMemory.AlignedAlloc((nuint)(size * sizeof(float)), 64);
        _b = (float*)NativeMemory.AlignedAlloc((nuint)(size * sizeof(float)), 64);
        _c = (float*)NativeMemory.AlignedAlloc((nuint)(size * sizeof(float)), 64);
        var rng = new Random(0);
        for (long i = 0; i < size; i++) { _a[i] = (float)rng.NextDouble(); _b[i] = (float)rng.NextDouble(); }
    }

    [Benchmark]
    public void Sgemm() => GemmPacked.Sgemm(false, TransB, N, N, N, 1f, _a, N, 0, _b, N, 0, 0f, _c, N, 0, 1);

    [GlobalCleanup]
    public void Cleanup()
    {
        NativeMemory.AlignedFree(_a);
        NativeMemory.AlignedFree(_b);
        NativeMemory.AlignedFree(_c);
    }
}
