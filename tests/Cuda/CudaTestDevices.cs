using Finetune.Kernels.Cuda;

namespace Finetune.Tests.Cuda;

/// <summary>
/// The CUDA backends the tests run against: the host device (always; kernels.cu compiled for the CPU) and the
/// real GPU when one is present. Each is created once per test run; a fixture registers its own as cuda:0.
/// </summary>
public static class CudaTestDevices
{
    public const string Host = "host";
    public const string Gpu = "gpu";

    public static readonly string[] All = { Host, Gpu };

    private static readonly Lazy<CudaBackend> HostBackend = new(() => CudaBackend.CreateHost(Device.Cuda(0), 2L << 30));

    private static readonly Lazy<(CudaBackend? Backend, string Reason)> GpuBackend = new(() =>
    {
        var probe = CudaDevice.Probe();
        return probe.Available ? (CudaBackend.CreateNative(0), "") : (null, probe.Reason);
    });

    /// <summary>The backend for <paramref name="kind"/>; ignores the test with the reason when there is no GPU.</summary>
    public static CudaBackend Get(string kind)
    {
        if (kind == Host)
        {
            if (!File.Exists(Finetune.Kernels.Cuda.Host.HostCudaDriver.DefaultLibraryPath))
                Assert.Fail($"{Finetune.Kernels.Cuda.Host.HostCudaDriver.DefaultLibraryPath} was not built: install g++ and rebuild the tests");
            return HostBackend.Value;
        }
        var (backend, reason) = GpuBackend.Value;
        if (backend is null) Assert.Ignore($"no GPU: {reason}");
        return backend!;
    }
}

/// <summary>Base of fixtures that run once per CUDA backend and compare against the CPU backend.</summary>
[TestFixtureSource(typeof(CudaTestDevices), nameof(CudaTestDevices.All))]
public abstract class CudaFixture
{
    protected CudaFixture(string kind) => Kind = kind;

    protected string Kind { get; }

    protected CudaBackend Cuda { get; private set; } = null!;

    protected static IBackend Cpu => Backends.For(Device.Cpu);

    /// <summary>True on the host device, where kernels run with the CPU's libm and no FMA contraction.</summary>
    protected bool OnHost => Kind == CudaTestDevices.Host;

    [SetUp]
    public void UseBackend()
    {
        Cuda = CudaTestDevices.Get(Kind);
        Backends.Register(Cuda);
    }

    protected static float[] Random(int n, float low, float high, ulong seed)
    {
        var rng = new Random((int)seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = low + (high - low) * (float)rng.NextDouble();
        return a;
    }

    /// <summary>Allocates <paramref name="offset"/> + data.Length floats and uploads data at element <paramref name="offset"/>.</summary>
    protected static Dense Upload(IBackend backend, float[] data, long offset = 0)
    {
        var buffer = backend.Allocate((data.Length + offset) * 4);
        backend.CopyFromHost<float>(data, new Dense(buffer, offset));
        return new Dense(buffer, offset);
    }

    protected static Dense UploadInts(IBackend backend, int[] data)
    {
        var buffer = backend.Allocate(Math.Max(1, data.Length) * 4L);
        backend.CopyFromHost<int>(data, new Dense(buffer));
        return new Dense(buffer);
    }

    protected static Dense Zeros(IBackend backend, long n, long offset = 0)
    {
        var buffer = backend.Allocate((n + offset) * 4);
        backend.Fill(new Dense(buffer, 0), n + offset, 0f);
        return new Dense(buffer, offset);
    }

    protected static float[] Download(IBackend backend, Dense d, long n)
    {
        var a = new float[n];
        backend.CopyToHost<float>(d, a);
        return a;
    }

    protected static void Release(params Dense[] buffers)
    {
        foreach (var b in buffers.Select(d => d.Buffer).Distinct()) b.Release();
    }

    /// <summary>|cuda - cpu| ≤ atol + rtol·|cpu| everywhere (NaN and infinities must match exactly).</summary>
    protected static void AssertClose(float[] cpu, float[] cuda, float rtol, float atol, string what)
    {
        Assert.That(cuda.Length, Is.EqualTo(cpu.Length), $"{what}: length");
        for (int i = 0; i < cpu.Length; i++)
        {
            float e = cpu[i], a = cuda[i];
            if (float.IsNaN(e) || float.IsInfinity(e))
            {
                Assert.That(a, Is.EqualTo(e), $"{what}[{i}]");
                continue;
            }
            if (!(Math.Abs(a - e) <= atol + rtol * Math.Abs(e)))
                Assert.Fail($"{what}[{i}]: cuda {a:R} vs cpu {e:R} (|diff| {Math.Abs(a - e):g3} > {atol} + {rtol}·|cpu|)");
        }
    }
}
