using System.Diagnostics;
using System.Globalization;
using Finetune.Kernels.Cpu;

using Finetune.Kernels;
using Finetune.Kernels.Cuda;

namespace Finetune.App;

/// <summary>
/// <c>finetune gpu-check</c>: runs each CUDA kernel family against the CPU backend on the same inputs and times it
/// with CUDA events, printing kernel, shape, max error vs CPU, time, achieved GB/s (TFLOP/s for GEMM) and the
/// share of the device's peak DRAM bandwidth. Exit code 0 when every kernel matches, 1 on a mismatch, 2 when
/// there is no usable GPU (the reason is printed).
/// </summary>
public static class GpuCheck
{
    /// <param name="output">Where the table goes (Console.Out from the CLI).</param>
    /// <param name="backend">The CUDA backend to check; null creates the one of GPU 0.</param>
    /// <param name="scale">Problem size factor (1 = the sizes meant for a GPU; tests pass less for the host device).</param>
    /// <param name="iterations">Timed launches per kernel after one warm-up.</param>
    public static int Run(TextWriter output, CudaBackend? backend = null, double scale = 1.0, int iterations = 20)
    {
        bool own = backend is null;
        if (backend is null)
        {
            var probe = CudaDevice.Probe();
            if (!probe.Available)
            {
                output.WriteLine($"gpu-check: {probe.Reason}");
                return 2;
            }
            backend = CudaBackend.CreateNative();
        }
        try
        {
            return RunChecks(output, backend, scale, Math.Max(1, iterations));
        }
        finally
        {
            if (own) backend.Dispose();
        }
    }

    private sealed record Check(
        string Kernel,
        string Shape,
        double Bytes,
        double Flops,
        float Rtol,
        float Atol,
        Func<IBackend, Case> Prepare);

    /// <summary>Inputs uploaded to one backend, the launch to time, and how to read the result back.</summary>
    private sealed class Case(List<DeviceBuffer> buffers, Action run, Func<float[]> result) : IDisposable
    {
        public Action Run { get; } = run;

        public Func<float[]> Result { get; } = result;

        public void Dispose()
        {
            foreach (var b in buffers) b.Release();
        }
    }

    /// <summary>Helper that owns the buffers a case allocates.</summary>
    private sealed class Setup(IBackend backend)
    {
        public readonly List<DeviceBuffer> Buffers = new();

        public Dense Upload(float[] data)
        {
            var b = backend.Allocate(Math.Max(1, data.Length) * 4L);
            Buffers.Add(b);
            backend.CopyFromHost<float>(data, new Dense(b));
            return new Dense(b);
        }

        public Dense UploadInts(int[] data)
        {
            var b = backend.Allocate(Math.Max(1, data.Length) * 4L);
            Buffers.Add(b);
            backend.CopyFromHost<int>(data, new Dense(b));
            return new Dense(b);
        }

        public Dense Zeros(long n)
        {
            var b = backend.Allocate(Math.Max(1, n) * 4);
            Buffers.Add(b);
            backend.Fill(new Dense(b), n, 0f);
            return new Dense(b);
        }

        public float[] Read(Dense d, long n)
        {
            var r = new float[n];
            backend.CopyToHost<float>(d, r);
            return r;
        }

        public Case Done(Action run, Func<float[]> result) => new(Buffers, run, result);
    }

    private static float[] RandomData(long n, float low, float high, int seed)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (long i = 0; i < n; i++) a[i] = low + (high - low) * (float)rng.NextDouble();
        return a;
    }

    private static IEnumerable<Check> Checks(double scale)
    {
        int S(int n, int min = 1) => Math.Max(min, (int)(n * scale));
        int n = S(1 << 24, 1024);
        int rows = S(8192, 8), cols = 1024, ln = 768;
        // 1024³ keeps the CPU reference GEMM to about a second on a GPU host while still saturating the GPU.
        int gm = S(1024, 16), gk = S(1024, 16), gn = S(1024, 16);
        int vocab = S(30522, 16), tokens = S(16384, 16);

        yield return new("fill_f32", $"[{n}]", 4.0 * n, 0, 0, 0, be =>
        {
            var s = new Setup(be);
            var y = s.Zeros(n);
            return s.Done(() => be.Fill(y, n, 1.25f), () => s.Read(y, n));
        });
        yield return new("unary_f32 gelu", $"[{n}]", 8.0 * n, 0, 1e-5f, 1e-6f, be =>
        {
            var s = new Setup(be);
            var x = s.Upload(RandomData(n, -4f, 4f, 1));
            var y = s.Zeros(n);
            return s.Done(() => be.Unary(UnaryOp.GeluErf, 0f, x, y, n), () => s.Read(y, n));
        });
        yield return new("unary_backward_f32 gelu", $"[{n}]", 16.0 * n, 0, 1e-5f, 1e-6f, be =>
        {
            var s = new Setup(be);
            var x = s.Upload(RandomData(n, -4f, 4f, 2));
            var g = s.Upload(RandomData(n, -1f, 1f, 3));
            var gx = s.Zeros(n);
            return s.Done(() => be.UnaryBackward(UnaryOp.GeluErf, 0f, x, x, g, gx, n), () => s.Read(gx, n));
        });
        yield return new("binary_f32 add (row broadcast)", $"[{rows}, {cols}] + [{cols}]", 8.0 * rows * cols, 0, 0, 0, be =>
        {
            var s = new Setup(be);
            var a = s.Upload(RandomData((long)rows * cols, -1f, 1f, 4));
            var b = s.Upload(RandomData(cols, -1f, 1f, 5));
            var c = s.Zeros((long)rows * cols);
            int[] shape = { rows, cols };
            var full = Layout.ContiguousStrides(shape);
            return s.Done(() => be.Binary(BinaryOp.Add, new Strided(a.Buffer, new Layout(shape, full, 0)),
                new Strided(b.Buffer, new Layout(shape, new long[] { 0, 1 }, 0)), new Strided(c.Buffer, new Layout(shape, full, 0))),
                () => s.Read(c, (long)rows * cols));
        });
        yield return new("copy_b32 (transpose)", $"[{cols}, {rows}]ᵀ", 8.0 * rows * cols, 0, 0, 0, be =>
        {
            var s = new Setup(be);
            var a = s.Upload(RandomData((long)rows * cols, -1f, 1f, 6));
            var c = s.Zeros((long)rows * cols);
            int[] shape = { cols, rows };
            return s.Done(() => be.Copy(DType.Float32, new Strided(a.Buffer, new Layout(shape, new long[] { 1, cols }, 0)),
                new Strided(c.Buffer, Layout.Contiguous(shape))), () => s.Read(c, (long)rows * cols));
        });
        yield return new("reduce_rows_f32 sum", $"[{rows}, {cols}] → [{rows}]", 4.0 * rows * cols, 0, 1e-5f, 1e-4f, be =>
        {
            var s = new Setup(be);
            var x = s.Upload(RandomData((long)rows * cols, -1f, 1f, 7));
            var y = s.Zeros(rows);
            return s.Done(() => be.Reduce(ReduceOp.Sum, x, y, rows, cols, 1), () => s.Read(y, rows));
        });
        yield return new("reduce_cols_f32 sum", $"[{rows}, {cols}] → [{cols}]", 4.0 * rows * cols, 0, 1e-5f, 1e-3f, be =>
        {
            var s = new Setup(be);
            var x = s.Upload(RandomData((long)rows * cols, -1f, 1f, 8));
            var y = s.Zeros(cols);
            return s.Done(() => be.Reduce(ReduceOp.Sum, x, y, 1, rows, cols), () => s.Read(y, cols));
        });
        yield return new("softmax_f32", $"[{rows}, {cols}]", 8.0 * rows * cols, 0, 1e-5f, 1e-6f, be =>
        {
            var s = new Setup(be);
            var x = s.Upload(RandomData((long)rows * cols, -8f, 8f, 9));
            var y = s.Zeros((long)rows * cols);
            return s.Done(() => be.Softmax(false, x, y, rows, cols), () => s.Read(y, (long)rows * cols));
        });
        yield return new("softmax_f32 (scaled, masked)", $"[{rows}, {cols}]", 10.0 * rows * cols, 0, 1e-5f, 1e-6f, be =>
        {
            var s = new Setup(be);
            var x = s.Upload(RandomData((long)rows * cols, -8f, 8f, 9));
            var mask = s.Upload(RandomData(4L * cols, -3f, 0f, 15));
            var y = s.Zeros((long)rows * cols);
            return s.Done(() => be.Softmax(false, x, y, rows, cols, 0.125f, new RowMask(mask, 4, 3)), () => s.Read(y, (long)rows * cols));
        });
        yield return new("softmax_backward_f32 (log)", $"[{rows}, {cols}]", 12.0 * rows * cols, 0, 1e-4f, 1e-5f, be =>
        {
            var s = new Setup(be);
            var y = s.Upload(RandomData((long)rows * cols, -8f, -1f, 10));
            var g = s.Upload(RandomData((long)rows * cols, -1f, 1f, 11));
            var gx = s.Zeros((long)rows * cols);
            return s.Done(() => be.SoftmaxBackward(true, y, g, gx, rows, cols), () => s.Read(gx, (long)rows * cols));
        });
        yield return new("layer_norm_f32", $"[{rows}, {ln}]", 8.0 * rows * ln, 0, 1e-4f, 1e-5f, be =>
        {
            var s = new Setup(be);
            var x = s.Upload(RandomData((long)rows * ln, -3f, 3f, 12));
            var w = s.Upload(RandomData(ln, 0.5f, 1.5f, 13));
            var b = s.Upload(RandomData(ln, -0.5f, 0.5f, 14));
            var y = s.Zeros((long)rows * ln);
            var mean = s.Zeros(rows);
            var rstd = s.Zeros(rows);
            return s.Done(() => be.LayerNorm(x, w, b, y, mean, rstd, rows, ln, 1e-5f), () => s.Read(y, (long)rows * ln));
        });
        yield return new("layer_norm_backward (dx, dw, db)", $"[{rows}, {ln}]", 16.0 * rows * ln, 0, 1e-3f, 1e-3f, be =>
        {
            var s = new Setup(be);
            var x = s.Upload(RandomData((long)rows * ln, -3f, 3f, 15));
            var w = s.Upload(RandomData(ln, 0.5f, 1.5f, 16));
            var mean = s.Upload(RandomData(rows, -0.1f, 0.1f, 17));
            var rstd = s.Upload(RandomData(rows, 0.5f, 1.0f, 18));
            var g = s.Upload(RandomData((long)rows * ln, -1f, 1f, 19));
            var gx = s.Zeros((long)rows * ln);
            var gw = s.Zeros(ln);
            var gb = s.Zeros(ln);
            // gw/gb accumulate, so the result read back is gx (dw/db are covered by the test suite).
            return s.Done(() => be.LayerNormBackward(x, w, mean, rstd, g, gx, gw, gb, rows, ln), () => s.Read(gx, (long)rows * ln));
        });
        yield return new("gather_f32 (embedding)", $"{tokens} ids of [{vocab}, {ln}]", 8.0 * tokens * ln, 0, 0, 0, be =>
        {
            var s = new Setup(be);
            var table = s.Upload(RandomData((long)vocab * ln, -1f, 1f, 20));
            var rng = new Random(21);
            var ids = s.UploadInts(Enumerable.Range(0, tokens).Select(_ => rng.Next(vocab)).ToArray());
            var y = s.Zeros((long)tokens * ln);
            return s.Done(() => be.Gather(table, vocab, ln, ids, tokens, y), () => s.Read(y, (long)tokens * ln));
        });
        yield return new("adamw_f32", $"[{n}]", 28.0 * n, 0, 1e-6f, 1e-7f, be =>
        {
            var s = new Setup(be);
            var p = s.Upload(RandomData(n, -1f, 1f, 22));
            var g = s.Upload(RandomData(n, -1f, 1f, 23));
            var m = s.Zeros(n);
            var v = s.Zeros(n);
            var step = new AdamWStep(1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 0.1f, 0.001f);
            return s.Done(() => be.AdamW(p, g, m, v, n, step), () => s.Read(m, n));
        });
        yield return new("random_normal_f32", $"[{n}]", 4.0 * n, 0, 1e-5f, 1e-5f, be =>
        {
            var s = new Setup(be);
            var y = s.Zeros(n);
            return s.Done(() => be.RandomNormal(42, 0, n, 0f, 1f, y), () => s.Read(y, n));
        });
        // The LoRA path of one layer (base GEMM excluded), version 1 composed and version 2 fused, on the same shape:
        // the ratio of their times is the GPU row of `bench lora`.
        int lt = S(8192, 8), lh = 768, lr = 16;
        long ln2 = (long)lt * lh;
        const float LoraP = 0.1f, LoraScale = 2f;
        yield return new("lora v1 composed (dropout, 2 gemm, +)", $"[{lt}, {lh}] r{lr}", 4.0 * 9 * ln2, 4.0 * lt * lh * lr, 1e-4f, 1e-4f,
            be =>
        {
            var s = new Setup(be);
            var x = s.Upload(RandomData(ln2, -1f, 1f, 26));
            var a = s.Upload(RandomData((long)lr * lh, -0.1f, 0.1f, 27));
            var b = s.Upload(RandomData((long)lh * lr, -0.1f, 0.1f, 28));
            Dense uniform = s.Zeros(ln2), mask = s.Zeros(ln2), dropped = s.Zeros(ln2);
            Dense u = s.Zeros((long)lt * lr), v = s.Zeros(ln2), y = s.Zeros(ln2);
            var flat = new Strided(dropped.Buffer, Layout.Contiguous(new[] { lt, lh }));
            Strided S2(Dense d) => flat with { Buffer = d.Buffer };
            return s.Done(() =>
            {
                be.RandomUniform(7, 0, ln2, 0f, 1f, uniform);
                be.Unary(UnaryOp.DropoutMask, LoraP, uniform, mask, ln2);
                be.Binary(BinaryOp.Mul, S2(x), S2(mask), S2(dropped));
                be.Gemm(false, true, lt, lr, lh, 1f, dropped, lh, 0, a, lh, 0, 0f, u, lr, 0, 1);
                be.Gemm(false, true, lt, lh, lr, 1f, u, lr, 0, b, lr, 0, 0f, v, lh, 0, 1);
                be.Unary(UnaryOp.Scale, LoraScale, v, v, ln2);
                be.Binary(BinaryOp.Add, S2(y), S2(v), S2(y));
            }, () => s.Read(y, ln2));
        });
        yield return new("lora v2 fused (lora_down, lora_up)", $"[{lt}, {lh}] r{lr}", 4.0 * 3 * ln2, 4.0 * lt * lh * lr, 1e-4f, 1e-4f,
            be =>
        {
            var s = new Setup(be);
            var x = s.Upload(RandomData(ln2, -1f, 1f, 26));
            var a = s.Upload(RandomData((long)lr * lh, -0.1f, 0.1f, 27));
            var b = s.Upload(RandomData((long)lh * lr, -0.1f, 0.1f, 28));
            Dense u = s.Zeros((long)lt * lr), y = s.Zeros(ln2);
            var lora = (ILoraKernels)be;
            return s.Done(() =>
            {
                lora.LoraDown(x, a, u, lt, lh, lr, new DropoutStream(7, 0, LoraP));
                lora.LoraUp(u, b, y, lt, lh, lr, LoraScale);
            }, () => s.Read(y, ln2));
        });
        yield return new("gemm (cuBLAS sgemm)", $"[{gm}, {gk}]·[{gk}, {gn}]", 4.0 * ((long)gm * gk + (long)gk * gn + (long)gm * gn),
            2.0 * gm * gn * gk,
            1e-4f, 1e-3f, be =>
        {
            var s = new Setup(be);
            var a = s.Upload(RandomData((long)gm * gk, -1f, 1f, 24));
            var b = s.Upload(RandomData((long)gk * gn, -1f, 1f, 25));
            var c = s.Zeros((long)gm * gn);
            return s.Done(() => be.Gemm(false, false, gm, gn, gk, 1f, a, gk, 0, b, gn, 0, 0f, c, gn, 0, 1), () => s.Read(c, (long)gm * gn));
        });
    }

    private static int RunChecks(TextWriter output, CudaBackend cuda, double scale, int iterations)
    {
        var info = cuda.Info;
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine($"gpu-check on {info.Name} ({cuda.Driver.Kind}): {info.Multiprocessors} SMs, compute {info.ComputeCapability}, "
            + $"{CachingAllocator.Format(info.TotalMemory)}, peak DRAM "
            + $"{(info.PeakBandwidthGBs > 0 ? info.PeakBandwidthGBs.ToString("0", inv) + " GB/s" : "unknown")}");
        string header = $"{"kernel",-34} {"shape",-30} {"max err",10} {"time",11} {"throughput",14} {"% peak BW",9}  result";
        output.WriteLine(header);
        output.WriteLine(new string('-', header.Length));
        var cpu = CpuBackend.Instance;
        int failures = 0;
        CudaException.Check(cuda.Driver.EventCreate(out nint start), "cuEventCreate");
        CudaException.Check(cuda.Driver.EventCreate(out nint end), "cuEventCreate");
        try
        {
            foreach (var check in Checks(scale))
            {
                float[] expected;
                using (var reference = check.Prepare(cpu))
                {
                    reference.Run();
                    expected = reference.Result();
                }
                using var device = check.Prepare(cuda);
                device.Run();
                var got = device.Result();
                double maxErr = 0;
                bool ok = got.Length == expected.Length;
                for (int i = 0; ok && i < got.Length; i++)
                {
                    double diff = Math.Abs((double)got[i] - expected[i]);
                    if (double.IsNaN(diff) && !(float.IsNaN(got[i]) && float.IsNaN(expected[i]))) ok = false;
                    if (!double.IsNaN(diff)) maxErr = Math.Max(maxErr, diff);
                    if (diff > check.Atol + check.Rtol * Math.Abs(expected[i])) ok = false;
                }
                CudaException.Check(cuda.Driver.EventRecord(start, 0), "cuEventRecord");
                for (int i = 0; i < iterations; i++) device.Run();
                CudaException.Check(cuda.Driver.EventRecord(end, 0), "cuEventRecord");
                CudaException.Check(cuda.Driver.EventSynchronize(end), "cuEventSynchronize");
                CudaException.Check(cuda.Driver.EventElapsedTime(out float ms, start, end), "cuEventElapsedTime");
                double seconds = ms / 1e3 / iterations;
                double gbs = check.Bytes / seconds / 1e9;
                string throughput = check.Flops > 0
                    ? (check.Flops / seconds / 1e12).ToString("0.00", inv) + " TFLOP/s"
                    : gbs.ToString("0.0", inv) + " GB/s";
                string peak = info.PeakBandwidthGBs > 0 ? (100 * gbs / info.PeakBandwidthGBs).ToString("0.0", inv) + "%" : "n/a";
                if (!ok) failures++;
                output.WriteLine($"{check.Kernel,-34} {check.Shape,-30} {maxErr.ToString("0.0e+0", inv),10} "
                    + $"{(seconds * 1e3).ToString("0.000", inv) + " ms",11} {throughput,14} {peak,9}  {(ok ? "ok" : "MISMATCH")}");
            }
        }
        finally
        {
            // Statuses ignored: an error above is the one worth reporting.
            cuda.Driver.EventDestroy(start);
            cuda.Driver.EventDestroy(end);
        }
        output.WriteLine(failures == 0 ? "gpu-check: every kernel matches the CPU backend"
            : $"gpu-check: {failures} kernel(s) differ from the CPU backend");
        return failures == 0 ? 0 : 1;
    }
}
