namespace Finetune.Tests.Cuda;

/// <summary>
/// Every kernel of the CUDA backend against the CPU backend on the same inputs, through IBackend directly, with
/// lengths that are not multiples of 4 and offsets that break 16-byte alignment (the scalar paths).
/// Tolerances: elementwise and row kernels rtol 1e-5; long sums scale atol with the length.
/// </summary>
public class KernelParityTests : CudaFixture
{
    public KernelParityTests(string kind) : base(kind) { }

    private static readonly UnaryOp[] Differentiable = Enum.GetValues<UnaryOp>().Where(o => o != UnaryOp.DropoutMask).ToArray();

    private static float[] InputFor(UnaryOp op, int n) => op switch
    {
        UnaryOp.Log or UnaryOp.Sqrt or UnaryOp.Rsqrt or UnaryOp.Pow => Random(n, 0.1f, 4f, 11),
        UnaryOp.DropoutMask => Random(n, 0f, 1f, 12),
        _ => Random(n, -4f, 4f, 13),
    };

    private static float ArgFor(UnaryOp op) => op switch
    {
        UnaryOp.Scale => -1.5f,
        UnaryOp.Pow => 3f,
        UnaryOp.AddScalar => 0.25f,
        UnaryOp.DropoutMask => 0.3f,
        _ => 0f,
    };

    [Test]
    public void Unary_forward_matches_cpu([Values] UnaryOp op, [Values(0, 1)] int offset)
    {
        const int n = 1027;
        var x = InputFor(op, n);
        float arg = ArgFor(op);
        float[] Run(IBackend b)
        {
            var dx = Upload(b, x, offset);
            var dy = Zeros(b, n, offset);
            b.Unary(op, arg, dx, dy, n);
            var r = Download(b, dy, n);
            Release(dx, dy);
            return r;
        }
        AssertClose(Run(Cpu), Run(Cuda), 1e-5f, 1e-6f, $"{op}");
    }

    [Test]
    public void Pow_by_two_and_by_a_fraction_match_cpu([Values(2f, 0.5f)] float exponent)
    {
        const int n = 515;
        var x = Random(n, 0.1f, 3f, 5);
        float[] Run(IBackend b)
        {
            var dx = Upload(b, x);
            var dy = Zeros(b, n);
            b.Unary(UnaryOp.Pow, exponent, dx, dy, n);
            var r = Download(b, dy, n);
            Release(dx, dy);
            return r;
        }
        AssertClose(Run(Cpu), Run(Cuda), 1e-5f, 1e-6f, $"pow {exponent}");
    }

    [Test]
    public void Unary_backward_matches_cpu([ValueSource(nameof(Differentiable))] UnaryOp op, [Values(0, 1)] int offset)
    {
        const int n = 1029;
        var x = InputFor(op, n);
        var gy = Random(n, -1f, 1f, 14);
        float arg = ArgFor(op);
        float[] Run(IBackend b)
        {
            var dx = Upload(b, x, offset);
            var dy = Zeros(b, n, offset);
            b.Unary(op, arg, dx, dy, n);
            var dgy = Upload(b, gy, offset);
            var dgx = Zeros(b, n, offset);
            b.UnaryBackward(op, arg, dx, dy, dgy, dgx, n);
            var r = Download(b, dgx, n);
            Release(dx, dy, dgy, dgx);
            return r;
        }
        AssertClose(Run(Cpu), Run(Cuda), 1e-5f, 1e-6f, $"{op} backward");
    }

    [Test]
    public void Dropout_mask_has_no_backward_on_either_backend()
    {
        var d = Zeros(Cuda, 4);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Cuda.UnaryBackward(UnaryOp.DropoutMask, 0.5f, d, d, d, d, 4));
        Assert.That(e!.Message, Does.Contain("no backward"));
        Release(d);
    }

    [Test]
    public void Fill_writes_every_element([Values(0, 1, 3)] int offset)
    {
        const int n = 1001;
        var d = Zeros(Cuda, n + 2, 0);
        Cuda.Fill(new Dense(d.Buffer, offset), n, 2.5f);
        var all = Download(Cuda, d, n + 2);
        for (int i = 0; i < n + 2; i++) Assert.That(all[i], Is.EqualTo(i >= offset && i < offset + n ? 2.5f : 0f), $"element {i}");
        Release(d);
    }

    private static Strided View(Dense d, int[] shape, long[] strides) => new(d.Buffer, new Layout(shape, strides, d.Offset));

    [Test]
    public void Binary_with_broadcast_and_transposed_operands_matches_cpu([Values] BinaryOp op)
    {
        // a: [3, 1, 5] broadcast over dim 1; b: a [5, 4] buffer read transposed as [4, 5] and broadcast over dim 0; c: [3, 4, 5].
        var a = Random(15, -2f, 2f, 21);
        var b = Random(20, 0.5f, 2f, 22);
        if (op == BinaryOp.Eq) for (int i = 0; i < 5; i++) b[i * 4] = a[i];
        float[] Run(IBackend be)
        {
            var da = Upload(be, a, 1);
            var db = Upload(be, b);
            var dc = Zeros(be, 60);
            be.Binary(op, View(da, new[] { 3, 4, 5 }, new long[] { 5, 0, 1 }), View(db, new[] { 3, 4, 5 }, new long[] { 0, 1, 4 }),
                View(dc, new[] { 3, 4, 5 }, Layout.ContiguousStrides(new[] { 3, 4, 5 })));
            var r = Download(be, dc, 60);
            Release(da, db, dc);
            return r;
        }
        AssertClose(Run(Cpu), Run(Cuda), 1e-6f, 0f, $"{op}");
    }

    [Test]
    public void Binary_on_dense_operands_matches_cpu([Values] BinaryOp op, [Values(0, 1)] int offset)
    {
        const int n = 2051;
        var a = Random(n, -2f, 2f, 23);
        var b = Random(n, 0.5f, 2f, 24);
        float[] Run(IBackend be)
        {
            var da = Upload(be, a, offset);
            var db = Upload(be, b, offset);
            var dc = Zeros(be, n, offset);
            var layout = new Layout(new[] { n }, new long[] { 1 }, offset);
            be.Binary(op, new Strided(da.Buffer, layout), new Strided(db.Buffer, layout), new Strided(dc.Buffer, layout));
            var r = Download(be, dc, n);
            Release(da, db, dc);
            return r;
        }
        AssertClose(Run(Cpu), Run(Cuda), 1e-6f, 0f, $"{op}");
    }

    [Test]
    public void Where_broadcasts_all_operands_like_cpu()
    {
        var cond = new float[] { 1, 0, 0, 1, 1, 0 }; // [2, 3], broadcast over dim 0
        var a = Random(4, -1f, 1f, 31);               // [4, 1, 1], broadcast over dims 1 and 2
        var b = Random(24, -1f, 1f, 32);              // [4, 2, 3]
        float[] Run(IBackend be)
        {
            var dm = Upload(be, cond);
            var da = Upload(be, a);
            var db = Upload(be, b);
            var dout = Zeros(be, 24);
            int[] shape = { 4, 2, 3 };
            be.Where(View(dm, shape, new long[] { 0, 3, 1 }), View(da, shape, new long[] { 1, 0, 0 }), View(db, shape, Layout.ContiguousStrides(shape)),
                View(dout, shape, Layout.ContiguousStrides(shape)));
            var r = Download(be, dout, 24);
            Release(dm, da, db, dout);
            return r;
        }
        AssertClose(Run(Cpu), Run(Cuda), 0f, 0f, "where");
    }

    [Test]
    public void Strided_copy_of_a_permuted_view_matches_cpu([Values(DType.Float32, DType.Int32, DType.Float16)] DType dtype)
    {
        // Source [2, 3, 4] read as its (2, 0, 1) permutation [4, 2, 3]; 16-bit types copy half as many bytes per element.
        int words = dtype.SizeOf() == 2 ? 12 : 24;
        var src = Random(words, -5f, 5f, 41);
        int[] shape = { 4, 2, 3 };
        long[] strides = { 1, 12, 4 };
        float[] Run(IBackend be)
        {
            var ds = Upload(be, src);
            var dd = Zeros(be, 24);
            be.Copy(dtype, View(ds, shape, strides), View(dd, shape, Layout.ContiguousStrides(shape)));
            var r = Download(be, dd, 24);
            Release(ds, dd);
            return r;
        }
        var cpu = Run(Cpu);
        var cuda = Run(Cuda);
        Assert.That(cuda.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(cpu.Select(BitConverter.SingleToInt32Bits)), "copies are bit-exact");
    }

    [TestCase(1, 100003, 1)]
    [TestCase(1, 262147, 1)]
    [TestCase(7, 33, 1)]
    [TestCase(5, 1000, 1)]
    [TestCase(3, 17, 9)]
    [TestCase(2, 5, 300)]
    [TestCase(4, 0, 3)]
    public void Reduce_matches_cpu(int outer, int extent, int inner)
    {
        int n = outer * extent * inner;
        var x = Random(n, -1f, 1f, 51);
        foreach (var op in Enum.GetValues<ReduceOp>())
        {
            float[] Run(IBackend be)
            {
                var dx = Upload(be, x);
                var dy = Zeros(be, outer * inner);
                be.Reduce(op, dx, dy, outer, extent, inner);
                var r = Download(be, dy, outer * inner);
                Release(dx, dy);
                return r;
            }
            AssertClose(Run(Cpu), Run(Cuda), 1e-5f, 2e-7f * extent, $"{op} [{outer}, {extent}, {inner}]");
        }
    }

    [Test]
    public void Softmax_forward_and_backward_match_cpu([Values(false, true)] bool log, [Values(1, 37, 300, 1000)] int cols, [Values(false, true)] bool scaledAndMasked)
    {
        const int rows = 5;
        var x = Random(rows * cols, -6f, 6f, 61);
        var gy = Random(rows * cols, -1f, 1f, 62);
        var maskValues = Random(2 * cols, -4f, 0f, 63);
        float scale = scaledAndMasked ? 0.3f : 1f;
        (float[], float[]) Run(IBackend be)
        {
            var dx = Upload(be, x);
            var dy = Zeros(be, rows * cols);
            var dgy = Upload(be, gy);
            var dgx = Zeros(be, rows * cols);
            var dm = Upload(be, maskValues);
            // Rows 0-1 take mask row 0, rows 2-3 row 1, row 4 row 0 again.
            be.Softmax(log, dx, dy, rows, cols, scale, scaledAndMasked ? new RowMask(dm, 2, 2) : null);
            be.SoftmaxBackward(log, dy, dgy, dgx, rows, cols, scale);
            var r = (Download(be, dy, rows * cols), Download(be, dgx, rows * cols));
            Release(dx, dy, dgy, dgx, dm);
            return r;
        }
        var (cy, cg) = Run(Cpu);
        var (gy2, gg) = Run(Cuda);
        string name = (log ? "log_softmax" : "softmax") + (scaledAndMasked ? " (scaled, masked)" : "");
        AssertClose(cy, gy2, 1e-5f, 1e-6f, name);
        AssertClose(cg, gg, 1e-4f, 1e-5f, name + " backward");
    }

    [Test]
    public void Layer_norm_forward_and_backward_match_cpu([Values(8, 384, 1000)] int cols)
    {
        const int rows = 6;
        var x = Random(rows * cols, -3f, 3f, 71);
        var w = Random(cols, 0.5f, 1.5f, 72);
        var bias = Random(cols, -0.5f, 0.5f, 73);
        var gy = Random(rows * cols, -1f, 1f, 74);
        float[][] Run(IBackend be)
        {
            var dx = Upload(be, x);
            var dw = Upload(be, w);
            var db = Upload(be, bias);
            var dy = Zeros(be, rows * cols);
            var dm = Zeros(be, rows);
            var dr = Zeros(be, rows);
            var dgy = Upload(be, gy);
            var dgx = Zeros(be, rows * cols);
            var dgw = Zeros(be, cols);
            var dgb = Zeros(be, cols);
            be.LayerNorm(dx, dw, db, dy, dm, dr, rows, cols, 1e-5f);
            be.LayerNormBackward(dx, dw, dm, dr, dgy, dgx, dgw, dgb, rows, cols);
            var r = new[] { Download(be, dy, rows * cols), Download(be, dm, rows), Download(be, dr, rows),
                Download(be, dgx, rows * cols), Download(be, dgw, cols), Download(be, dgb, cols) };
            Release(dx, dw, db, dy, dm, dr, dgy, dgx, dgw, dgb);
            return r;
        }
        var cpu = Run(Cpu);
        var cuda = Run(Cuda);
        string[] names = { "y", "mean", "rstd", "gx", "gw", "gb" };
        for (int i = 0; i < names.Length; i++) AssertClose(cpu[i], cuda[i], 1e-4f, 1e-5f, $"layer_norm {names[i]}");
    }

    [Test]
    public void Embedding_gather_and_scatter_add_with_repeated_ids_match_cpu()
    {
        const int vocab = 11, cols = 13;
        int[] ids = { 3, 0, 10, 3, 3, 7, 0 };
        var table = Random(vocab * cols, -1f, 1f, 81);
        var gOut = Random(ids.Length * cols, -1f, 1f, 82);
        (float[], float[]) Run(IBackend be)
        {
            var dt = Upload(be, table);
            var di = UploadInts(be, ids);
            var dout = Zeros(be, ids.Length * cols);
            var dg = Upload(be, gOut);
            var dgt = Zeros(be, vocab * cols);
            be.Gather(dt, vocab, cols, di, ids.Length, dout);
            be.ScatterAdd(dg, di, ids.Length, cols, dgt, vocab);
            var r = (Download(be, dout, ids.Length * cols), Download(be, dgt, vocab * cols));
            Release(dt, di, dout, dg, dgt);
            return r;
        }
        var (co, cg) = Run(Cpu);
        var (go, gg) = Run(Cuda);
        AssertClose(co, go, 0f, 0f, "gather");
        AssertClose(cg, gg, 1e-6f, 1e-6f, "scatter_add");
    }

    [Test]
    public void Scatter_add_over_many_concurrent_blocks_keeps_every_contribution()
    {
        // 512 ids over 8 rows and 64 columns: 128 blocks, which the host device spreads over its threads, all
        // adding into the same few rows with atomics.
        const int vocab = 8, cols = 64, count = 512;
        var ids = Enumerable.Range(0, count).Select(i => (i * 5) % vocab).ToArray();
        var gOut = Random(count * cols, -1f, 1f, 83);
        float[] Run(IBackend be)
        {
            var dg = Upload(be, gOut);
            var di = UploadInts(be, ids);
            var dt = Zeros(be, vocab * cols);
            be.ScatterAdd(dg, di, count, cols, dt, vocab);
            var r = Download(be, dt, vocab * cols);
            Release(dg, di, dt);
            return r;
        }
        AssertClose(Run(Cpu), Run(Cuda), 1e-5f, 1e-5f, "scatter_add");
    }

    /// <summary>Runs <paramref name="action"/> on both backends and demands the same exception type and message.</summary>
    private void AssertSameIndexError(Action<IBackend> action, string contains)
    {
        var cpu = Assert.Throws<ArgumentOutOfRangeException>(() => action(Cpu));
        var cuda = Assert.Throws<ArgumentOutOfRangeException>(() => action(Cuda));
        Assert.That(cuda!.Message, Is.EqualTo(cpu!.Message));
        Assert.That(cuda.Message, Does.Contain(contains));
    }

    [Test]
    public void Bad_ids_and_targets_throw_the_cpu_exception()
    {
        AssertSameIndexError(be =>
        {
            var dt = Zeros(be, 12);
            var di = UploadInts(be, new[] { 1, 2, 5, -1 });
            var dout = Zeros(be, 16);
            try { be.Gather(dt, 3, 4, di, 4, dout); }
            finally { Release(dt, di, dout); }
        }, "embedding: ids[2] = 5 is outside [0, 3)");
        AssertSameIndexError(be =>
        {
            var dg = Zeros(be, 8);
            var di = UploadInts(be, new[] { 0, 9 });
            var dt = Zeros(be, 12);
            try { be.ScatterAdd(dg, di, 2, 4, dt, 3); }
            finally { Release(dg, di, dt); }
        }, "embedding backward: ids[1] = 9");
        AssertSameIndexError(be =>
        {
            var dl = Zeros(be, 12);
            var dt = UploadInts(be, new[] { -100, 2, 4 });
            var loss = Zeros(be, 3);
            var w = Zeros(be, 3);
            try { be.NllLoss(dl, dt, 3, 4, -100, loss, w); }
            finally { Release(dl, dt, loss, w); }
        }, "cross_entropy: targets[2] = 4 is outside [0, 4)");
        AssertSameIndexError(be =>
        {
            var dgl = Zeros(be, 3);
            var dt = UploadInts(be, new[] { -7, 2, 1 });
            var dg = Zeros(be, 12);
            try { be.NllLossBackward(dgl, dt, 3, 4, -100, dg); }
            finally { Release(dgl, dt, dg); }
        }, "cross_entropy backward: targets[0] = -7");
    }

    [Test]
    public void Nll_loss_forward_and_backward_with_ignore_index_match_cpu()
    {
        const int rows = 9, classes = 7;
        int[] targets = { 0, 6, -100, 3, 3, -100, 1, 2, 5 };
        var logp = Random(rows * classes, -5f, 0f, 91);
        var gLoss = Random(rows, -1f, 1f, 92);
        float[][] Run(IBackend be)
        {
            var dl = Upload(be, logp);
            var dt = UploadInts(be, targets);
            var loss = Zeros(be, rows);
            var w = Zeros(be, rows);
            var dgl = Upload(be, gLoss);
            var dg = Upload(be, Random(rows * classes, 5f, 6f, 93)); // stale values must be overwritten
            be.NllLoss(dl, dt, rows, classes, -100, loss, w);
            be.NllLossBackward(dgl, dt, rows, classes, -100, dg);
            var r = new[] { Download(be, loss, rows), Download(be, w, rows), Download(be, dg, rows * classes) };
            Release(dl, dt, loss, w, dgl, dg);
            return r;
        }
        var cpu = Run(Cpu);
        var cuda = Run(Cuda);
        AssertClose(cpu[0], cuda[0], 0f, 0f, "loss");
        AssertClose(cpu[1], cuda[1], 0f, 0f, "weight");
        AssertClose(cpu[2], cuda[2], 0f, 0f, "gLogProbs");
    }

    [Test]
    public void AdamW_steps_match_cpu_bit_for_bit_on_the_host_device()
    {
        const int n = 1030;
        var p = Random(n, -1f, 1f, 101);
        var m = Random(n, -0.1f, 0.1f, 102);
        var v = Random(n, 0f, 0.01f, 103);
        var grads = Enumerable.Range(0, 3).Select(i => Random(n, -1f, 1f, 110 + (ulong)i)).ToArray();
        float[][] Run(IBackend be)
        {
            var dp = Upload(be, p);
            var dm = Upload(be, m);
            var dv = Upload(be, v);
            for (int step = 1; step <= 3; step++)
            {
                var dg = Upload(be, grads[step - 1]);
                float b1 = 0.9f, b2 = 0.999f;
                be.AdamW(dp, dg, dm, dv, n, new AdamWStep(1e-2f, b1, b2, 1e-8f, 0.01f, 1f - MathF.Pow(b1, step), 1f - MathF.Pow(b2, step)));
                Release(dg);
            }
            var r = new[] { Download(be, dp, n), Download(be, dm, n), Download(be, dv, n) };
            Release(dp, dm, dv);
            return r;
        }
        var cpu = Run(Cpu);
        var cuda = Run(Cuda);
        // The kernel uses explicitly rounded operations in the CPU's order, so even the GPU should agree exactly.
        for (int i = 0; i < 3; i++) AssertClose(cpu[i], cuda[i], 0f, 0f, new[] { "param", "m", "v" }[i]);
    }

    [Test]
    public void Philox_uniform_and_normal_match_cpu([Values(0UL, 12345UL)] ulong seed, [Values(0UL, 7UL)] ulong offset)
    {
        const int n = 1023;
        (float[], float[]) Run(IBackend be)
        {
            var du = Zeros(be, n);
            var dn = Zeros(be, n);
            be.RandomUniform(seed, offset, n, -2f, 3f, du);
            be.RandomNormal(seed, offset, n, 0.5f, 2f, dn);
            var r = (Download(be, du, n), Download(be, dn, n));
            Release(du, dn);
            return r;
        }
        var (cu, cn) = Run(Cpu);
        var (gu, gn) = Run(Cuda);
        AssertClose(cu, gu, 0f, 0f, "uniform");
        // Host: the same libm, so identical. GPU: logf/sinf/cosf differ from glibc by at most a couple of ulp.
        AssertClose(cn, gn, OnHost ? 0f : 1e-6f, OnHost ? 0f : 1e-6f, "normal");
    }
}
