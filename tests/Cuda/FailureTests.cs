using Finetune.Kernels.Cuda;
using Finetune.Kernels.Cuda.Host;

namespace Finetune.Tests.Cuda;

/// <summary>What goes wrong is said plainly: bad launches, exhausted memory, a missing driver, corrupt or stale PTX.</summary>
public class FailureTests
{
    private static HostCudaDriver HostDriver(long memory = 64L << 20)
    {
        if (!File.Exists(HostCudaDriver.DefaultLibraryPath)) Assert.Fail($"{HostCudaDriver.DefaultLibraryPath} was not built: install g++ and rebuild the tests");
        return new HostCudaDriver(memoryBytes: memory);
    }

    [Test]
    public void An_invalid_launch_configuration_names_the_call_the_status_and_the_configuration()
    {
        using var backend = new CudaBackend(HostDriver(), new HostCudaBlas(), Device.Cuda(3));
        var buffer = backend.Allocate(64);
        ulong y = (ulong)buffer.Pointer;
        var e = Assert.Throws<CudaException>(() =>
            backend.Launch(KernelId.Fill, new Dim3(1), new Dim3(2048), a => a.Add(y).Add(1f).Add(16L)));
        Assert.That(e!.Message, Does.Contain("cuLaunchKernel").And.Contain("CUDA_ERROR_INVALID_VALUE")
            .And.Contain("fill_f32").And.Contain("block (2048, 1, 1)").And.Contain("To fix"));
        Assert.Throws<CudaException>(() => backend.Launch(KernelId.Fill, new Dim3(0), new Dim3(32), a => a.Add(y).Add(1f).Add(16L)), "an empty grid");
        // The device is still usable afterwards.
        backend.Fill(new Dense(buffer), 16, 3f);
        var back = new float[16];
        backend.CopyToHost<float>(new Dense(buffer), back);
        Assert.That(back, Is.All.EqualTo(3f));
        buffer.Release();
    }

    [Test]
    public void Packing_the_wrong_number_of_arguments_is_caught_before_the_launch()
    {
        using var backend = new CudaBackend(HostDriver(), new HostCudaBlas(), Device.Cuda(3));
        var e = Assert.Throws<InvalidOperationException>(() => backend.Launch(KernelId.Fill, new Dim3(1), new Dim3(32), a => a.Add(1f)));
        Assert.That(e!.Message, Does.Contain("fill_f32").And.Contain("takes 3"));
    }

    [Test]
    public void Out_of_memory_says_how_much_and_the_process_continues_after_freeing()
    {
        using var backend = new CudaBackend(HostDriver(8L << 20), new HostCudaBlas(), Device.Cuda(3));
        Backends.Register(backend);
        var held = new List<Tensor>();
        var e = Assert.Throws<CudaOutOfMemoryException>(() =>
        {
            for (int i = 0; i < 100; i++) held.Add(Tensor.Zeros(new[] { 256, 1024 }, Device.Cuda(3))); // 1 MiB each
        });
        Assert.That(e!.Message, Does.Contain("CUDA_ERROR_OUT_OF_MEMORY").And.Contain("cuda:3").And.Contain("free tensors"));
        Assert.That(held, Has.Count.InRange(4, 8));
        foreach (var t in held) t.Dispose();
        Assert.That(backend.Allocator.AllocatedBytes, Is.Zero);
        // Freed blocks are cached, then a differently sized request forces the cache back to the driver and succeeds.
        using var big = Tensor.Full(new[] { 1536, 1024 }, 2f, Device.Cuda(3));
        Assert.That(big.Sum().Item(), Is.EqualTo(2f * 1536 * 1024));
    }

    [Test]
    public void A_missing_driver_library_makes_cuda_unavailable_with_the_reason_and_the_cpu_keeps_working()
    {
        var probe = CudaDevice.Probe(new[] { "libcuda-that-does-not-exist.so.1" });
        Assert.That(probe.Available, Is.False);
        Assert.That(probe.Reason, Does.Contain("libcuda-that-does-not-exist.so.1").And.Contain("install the NVIDIA driver"));
        using var x = Tensor.FromArray(new float[] { 1, 2, 3 }, 3);
        Assert.That(x.Exp().Sum().Item(), Is.EqualTo(MathF.Exp(1) + MathF.Exp(2) + MathF.Exp(3)).Within(1e-5f));
    }

    [Test]
    public void The_real_driver_probe_either_finds_a_gpu_or_says_why_not()
    {
        var probe = CudaDevice.Probe();
        if (probe.Available)
        {
            Assert.That(probe.Info!.Multiprocessors, Is.Positive);
            Assert.That(probe.Info.TotalMemory, Is.Positive);
        }
        else
        {
            Assert.That(probe.Reason, Is.Not.Empty);
            Assert.That(CudaDevice.TryRegister(out string reason), Is.Null);
            Assert.That(reason, Is.EqualTo(probe.Reason));
            var e = Assert.Throws<CudaUnavailableException>(() => CudaBackend.CreateNative());
            Assert.That(e!.Reason, Is.EqualTo(probe.Reason), "creating the backend fails with the probe's reason");
            Assert.That(e.Message, Is.EqualTo($"CUDA is not available: {probe.Reason}"));
            Assert.That(e.Message, Does.Contain("install").Or.Contain("check"), "and says what to do");
        }
    }

    [Test]
    public void Corrupt_ptx_is_refused_with_what_to_do()
    {
        using var driver = HostDriver();
        var e = Assert.Throws<InvalidDataException>(() => new CudaBackend(driver, new HostCudaBlas(), Device.Cuda(3), ptx: "\u0000\u0013garbage"));
        Assert.That(e!.Message, Does.Contain("corrupt").And.Contain("tools/build-ptx.sh"));
    }

    [Test]
    public void Stale_ptx_missing_a_kernel_or_with_other_parameters_is_refused()
    {
        using var driver = HostDriver();
        string ptx = CudaKernels.EmbeddedPtx();
        var missing = Assert.Throws<InvalidDataException>(() =>
            new CudaBackend(driver, new HostCudaBlas(), Device.Cuda(3), ptx: ptx.Replace(".entry fill_f32(", ".entry fill_old_f32(")));
        Assert.That(missing!.Message, Does.Contain("stale").And.Contain("fill_f32").And.Contain("tools/build-ptx.sh"));
        var changed = Assert.Throws<InvalidDataException>(() =>
            new CudaBackend(driver, new HostCudaBlas(), Device.Cuda(3), ptx: ptx.Replace(".param .u64 fill_f32_param_0,", "")));
        Assert.That(changed!.Message, Does.Contain("fill_f32 takes 2 parameters there, this build passes 3"));
    }

    [Test]
    public void Ptx_the_jit_rejects_surfaces_the_jit_log()
    {
        using var driver = HostDriver();
        // Passes the backend's own checks but lacks .address_size, which the (host) JIT demands.
        string ptx = CudaKernels.EmbeddedPtx().Replace(".address_size 64", "");
        var e = Assert.Throws<CudaException>(() => new CudaBackend(driver, new HostCudaBlas(), Device.Cuda(3), ptx: ptx));
        Assert.That(e!.Message, Does.Contain("cuModuleLoadDataEx").And.Contain("CUDA_ERROR_INVALID_PTX").And.Contain("JIT log").And.Contain(".address_size"));
    }

    [Test]
    public void Embedded_ptx_and_the_host_launcher_table_agree_with_the_backend_kernel_table()
    {
        using var driver = HostDriver();
        var entries = CudaKernels.Entries(CudaKernels.EmbeddedPtx());
        Assert.That(entries.Keys, Is.EquivalentTo(driver.KernelParams.Keys), "PTX entries vs kernels compiled for the host");
        foreach (var (name, count) in CudaKernels.Table)
        {
            Assert.That(entries[name], Is.EqualTo(count), $"{name} in the PTX");
            Assert.That(driver.KernelParams[name], Is.EqualTo(count), $"{name} in the host launcher table");
        }
    }

    [Test]
    public unsafe void Host_driver_checks_copies_against_live_allocations()
    {
        using var driver = HostDriver();
        Assert.That(driver.MemAlloc(out ulong p, 64), Is.Zero);
        float v = 1f;
        Assert.That(driver.CopyHostToDevice(p + 60, &v, 4), Is.Zero);
        Assert.That(driver.CopyHostToDevice(p + 62, &v, 4), Is.EqualTo(CudaStatus.InvalidValue), "straddles the end");
        Assert.That(driver.MemFree(p), Is.Zero);
        Assert.That(driver.CopyHostToDevice(p, &v, 4), Is.EqualTo(CudaStatus.InvalidValue), "after free");
        Assert.That(driver.MemFree(p), Is.EqualTo(CudaStatus.InvalidValue), "double free");
        var e = Assert.Throws<CudaException>(() => CudaException.Check(driver.MemFree(p), "cuMemFree"));
        Assert.That(e!.Message, Does.Contain("cuMemFree failed with CUDA_ERROR_INVALID_VALUE (1)"));
    }

    [Test]
    public unsafe void Async_copies_and_memset_round_trip_through_a_stream()
    {
        using var driver = HostDriver();
        CudaException.Check(driver.StreamCreate(out nint stream), "cuStreamCreate");
        CudaException.Check(driver.MemAlloc(out ulong a, 64), "cuMemAlloc");
        CudaException.Check(driver.MemAlloc(out ulong b, 64), "cuMemAlloc");
        var source = new float[] { 1, 2, 3, 4 };
        var back = new float[8];
        fixed (float* s = source, d = back)
        {
            CudaException.Check(driver.MemsetD32(b, BitConverter.SingleToUInt32Bits(-1f), 16), "cuMemsetD32");
            CudaException.Check(driver.CopyHostToDeviceAsync(a, s, 16, stream), "cuMemcpyHtoDAsync");
            CudaException.Check(driver.CopyDeviceToDevice(b + 8, a, 16), "cuMemcpyDtoD");
            CudaException.Check(driver.CopyDeviceToHostAsync(d, b, 32, stream), "cuMemcpyDtoHAsync");
            CudaException.Check(driver.StreamSynchronize(stream), "cuStreamSynchronize");
        }
        Assert.That(back, Is.EqualTo(new float[] { -1, -1, 1, 2, 3, 4, -1, -1 }));
        CudaException.Check(driver.MemFree(a), "cuMemFree");
        CudaException.Check(driver.MemFree(b), "cuMemFree");
        CudaException.Check(driver.StreamDestroy(stream), "cuStreamDestroy");
    }

    [Test]
    public void Streams_and_events_time_work_in_order()
    {
        using var driver = HostDriver();
        CudaException.Check(driver.StreamCreate(out nint stream), "cuStreamCreate");
        CudaException.Check(driver.EventCreate(out nint start), "cuEventCreate");
        CudaException.Check(driver.EventCreate(out nint end), "cuEventCreate");
        Assert.That(driver.EventElapsedTime(out _, start, end), Is.EqualTo(600), "CUDA_ERROR_NOT_READY before recording");
        CudaException.Check(driver.EventRecord(start, stream), "cuEventRecord");
        Thread.Sleep(5);
        CudaException.Check(driver.EventRecord(end, stream), "cuEventRecord");
        CudaException.Check(driver.EventSynchronize(end), "cuEventSynchronize");
        CudaException.Check(driver.EventElapsedTime(out float ms, start, end), "cuEventElapsedTime");
        Assert.That(ms, Is.GreaterThanOrEqualTo(4f));
        CudaException.Check(driver.StreamSynchronize(stream), "cuStreamSynchronize");
        CudaException.Check(driver.EventDestroy(start), "cuEventDestroy");
        CudaException.Check(driver.EventDestroy(end), "cuEventDestroy");
        CudaException.Check(driver.StreamDestroy(stream), "cuStreamDestroy");
    }
}

/// <summary>The caching allocator's size classes, reuse and statistics.</summary>
public class CachingAllocatorTests
{
    [TestCase(0, 512)]
    [TestCase(1, 512)]
    [TestCase(513, 1024)]
    [TestCase(1 << 20, 1 << 20)]
    [TestCase((1 << 20) + 1, 2 << 20)]
    [TestCase(5 << 20, 6 << 20)]
    public void Sizes_round_up_to_their_class(long bytes, long expected) =>
        Assert.That(CachingAllocator.SizeClass(bytes), Is.EqualTo(expected));

    [Test]
    public void Freed_blocks_are_reused_and_statistics_track_use()
    {
        if (!File.Exists(HostCudaDriver.DefaultLibraryPath)) Assert.Fail("host device kernels not built: install g++ and rebuild the tests");
        using var driver = new HostCudaDriver(memoryBytes: 64L << 20);
        var allocator = new CachingAllocator(new CudaRawMemory(driver, "cuda:9"), "cuda:9");
        ulong a = allocator.Allocate(1000);
        ulong b = allocator.Allocate(3 << 20);
        Assert.That(allocator.AllocatedBytes, Is.EqualTo(1024 + (4 << 20)));
        Assert.That(allocator.DeviceAllocations, Is.EqualTo(2));
        allocator.Free(a);
        Assert.That(allocator.AllocatedBytes, Is.EqualTo(4 << 20));
        Assert.That(allocator.ReservedBytes, Is.EqualTo(1024 + (4 << 20)));
        ulong c = allocator.Allocate(900); // same class as a
        Assert.That(c, Is.EqualTo(a));
        Assert.That(allocator.DeviceAllocations, Is.EqualTo(2));
        Assert.That(allocator.CacheHits, Is.EqualTo(1));
        Assert.That(allocator.PeakAllocatedBytes, Is.EqualTo(1024 + (4 << 20)));
        allocator.Free(b);
        allocator.Free(c);
        Assert.That(allocator.CachedBytes, Is.EqualTo(1024 + (4 << 20)));
        allocator.EmptyCache();
        Assert.That(allocator.ReservedBytes, Is.Zero);
        driver.MemGetInfo(out long free, out long total);
        Assert.That(free, Is.EqualTo(total));
        Assert.Throws<InvalidOperationException>(() => allocator.Free(c), "double free");
    }
}
