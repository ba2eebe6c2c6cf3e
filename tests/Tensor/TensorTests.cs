using Finetune;
using Finetune.Kernels.Cpu;
using Finetune.Kernels.Profiling;

namespace Finetune.Tests.Tensors;

public class TensorTests
{
    private TensorScope _scope = null!;

    [SetUp]
    public void Begin() => _scope = TensorScope.Begin();

    [TearDown]
    public void End()
    {
        _scope.Dispose();
        CpuParallel.Threads = Environment.ProcessorCount;
    }

    [Test]
    public void Views_share_memory_and_contiguous_copies_do_not()
    {
        var x = Tensor.Arange(12).View(3, 4);
        var t = x.T;
        Assert.That(t.IsContiguous, Is.False);
        Assert.That(t.Shape, Is.EqualTo(new[] { 4, 3 }));
        Assert.That(t.ToArray(), Is.EqualTo(new float[] { 0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11 }));
        var n = x.Narrow(1, 1, 2);
        Assert.That(n.ToArray(), Is.EqualTo(new float[] { 1, 2, 5, 6, 9, 10 }));
        var e = Tensor.FromArray(new float[] { 1, 2 }, 2, 1).Expand(2, 3);
        Assert.That(e.Strides, Is.EqualTo(new long[] { 1, 0 }));
        Assert.That(e.ToArray(), Is.EqualTo(new float[] { 1, 1, 1, 2, 2, 2 }));
        var p = Tensor.Arange(24).View(2, 3, 4).Permute(2, 0, 1);
        Assert.That(p.Shape, Is.EqualTo(new[] { 4, 2, 3 }));
        Assert.That(p.Contiguous().ToArray()[..6], Is.EqualTo(new float[] { 0, 4, 8, 12, 16, 20 }));
        Assert.That(x.Unsqueeze(0).Shape, Is.EqualTo(new[] { 1, 3, 4 }));
        Assert.That(x.Unsqueeze(2).Squeeze(2).Shape, Is.EqualTo(new[] { 3, 4 }));
        Assert.That(x.Reshape(-1, 6).Shape, Is.EqualTo(new[] { 2, 6 }));
        Assert.That(t.Reshape(12).ToArray()[1], Is.EqualTo(4f));
    }

    [Test]
    public void Creation_ops_fill_as_asked()
    {
        Assert.That(Tensor.Zeros(2, 2).ToArray(), Is.All.EqualTo(0f));
        Assert.That(Tensor.Ones(3).ToArray(), Is.All.EqualTo(1f));
        Assert.That(Tensor.Full(new[] { 2 }, 7.5f).ToArray(), Is.All.EqualTo(7.5f));
        Assert.That(Tensor.Scalar(3f).Item(), Is.EqualTo(3f));
        Assert.That(Tensor.Scalar(3f).Rank, Is.EqualTo(0));
        Assert.That(Tensor.FromArray(new[] { 4, 5 }, 2).ToIntArray(), Is.EqualTo(new[] { 4, 5 }));
    }

    [Test]
    public void Philox_matches_the_Random123_known_answers()
    {
        Assert.That(Philox.Block(0, 0, 0, 0, 0, 0), Is.EqualTo((0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u)));
        Assert.That(Philox.Block(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff),
            Is.EqualTo((0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu)));
        Assert.That(Philox.Block(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0),
            Is.EqualTo((0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u)));
    }

    [Test]
    public void Random_tensors_depend_only_on_seed_and_draw_order()
    {
        var a = Tensor.Normal(new[] { 1000 }, 0f, 1f, new Generator(5)).ToArray();
        CpuParallel.Threads = 1;
        var b = Tensor.Normal(new[] { 1000 }, 0f, 1f, new Generator(5)).ToArray();
        Assert.That(b, Is.EqualTo(a));
        var g = new Generator(5);
        var first = Tensor.Uniform(new[] { 10 }, 0f, 1f, g).ToArray();
        var second = Tensor.Uniform(new[] { 10 }, 0f, 1f, g).ToArray();
        Assert.That(second, Is.Not.EqualTo(first));
        Assert.That(a.Average(), Is.EqualTo(0).Within(0.1));
        Assert.That(Math.Sqrt(a.Select(v => v * v).Average()), Is.EqualTo(1).Within(0.1));
        var u = Tensor.Uniform(new[] { 10000 }, -2f, 3f, new Generator(1)).ToArray();
        Assert.That(u.Min(), Is.GreaterThanOrEqualTo(-2f));
        Assert.That(u.Max(), Is.LessThan(3f));
        Assert.That(u.Average(), Is.EqualTo(0.5).Within(0.05));
    }

    [Test]
    public void Gradients_accumulate_across_backward_calls_until_zeroed()
    {
        var w = Tensor.FromArray(new[] { 1f, 2f, 3f }, 3).Keep();
        w.RequiresGrad = true;
        (w * w).Sum().Backward();
        Assert.That(w.Grad!.ToArray(), Is.EqualTo(new[] { 2f, 4f, 6f }));
        (w * 3f).Sum().Backward();
        Assert.That(w.Grad!.ToArray(), Is.EqualTo(new[] { 5f, 7f, 9f }));
        w.ZeroGrad();
        Assert.That(w.Grad, Is.Null);
        w.Dispose();
    }

    [Test]
    public void A_tensor_used_twice_gets_the_sum_of_both_paths()
    {
        var x = Tensor.FromArray(new[] { 2f }, 1).Keep();
        x.RequiresGrad = true;
        var y = x * x + x.Exp() + x; // dy/dx = 2x + e^x + 1
        y.Sum().Backward();
        Assert.That(x.Grad!.Item(), Is.EqualTo(4f + MathF.Exp(2f) + 1f).Within(1e-5));
        x.Dispose();
    }

    [Test]
    public void Two_leaves_fed_the_same_gradient_do_not_share_gradient_memory()
    {
        var a = Tensor.Ones(2).Keep();
        var b = Tensor.Ones(2).Keep();
        a.RequiresGrad = b.RequiresGrad = true;
        (a + b).Sum().Backward();
        (a * 5f).Sum().Backward();
        Assert.That(a.Grad!.ToArray(), Is.EqualTo(new[] { 6f, 6f }));
        Assert.That(b.Grad!.ToArray(), Is.EqualTo(new[] { 1f, 1f }));
        a.Dispose();
        b.Dispose();
    }

    [Test]
    public void NoGrad_records_nothing_and_Detach_cuts_the_graph()
    {
        var w = Tensor.Ones(2).Keep();
        w.RequiresGrad = true;
        using (GradMode.NoGrad())
        {
            var y = w * 2f;
            Assert.That(y.RequiresGrad, Is.False);
        }
        var d = (w * 2f).Detach();
        Assert.That(d.RequiresGrad, Is.False);
        Assert.That(d.IsLeaf, Is.True);
        w.Dispose();
    }

    [Test]
    public void A_scope_frees_every_temporary_and_keeps_parameters_and_gradients()
    {
        long before = CpuBackend.Instance.AllocatedBytes;
        var w = Tensor.Ones(256, 256).Keep();
        w.RequiresGrad = true;
        long withParam = CpuBackend.Instance.AllocatedBytes;
        for (int step = 0; step < 3; step++)
        {
            using var scope = TensorScope.Begin();
            var h = w.Matmul(w).Gelu().Softmax();
            h.Mean().Backward();
            Assert.That(scope.Tracked, Is.GreaterThan(5));
        }
        long param = 256 * 256 * 4;
        Assert.That(w.Grad, Is.Not.Null);
        Assert.That(CpuBackend.Instance.AllocatedBytes - withParam, Is.EqualTo(param), "only the gradient outlives the steps");
        w.Dispose();
        Assert.That(CpuBackend.Instance.AllocatedBytes, Is.EqualTo(before));
    }

    [Test]
    public void A_returned_tensor_moves_to_the_outer_scope()
    {
        Tensor kept;
        using (var inner = TensorScope.Begin())
        {
            kept = inner.Return(Tensor.Ones(2) * 3f);
            _ = Tensor.Ones(2);
        }
        Assert.That(kept.IsDisposed, Is.False);
        Assert.That(kept.ToArray(), Is.EqualTo(new[] { 3f, 3f }));
    }

    [Test]
    public void Kernels_repeat_bit_for_bit_across_thread_counts()
    {
        float[] Run()
        {
            using var scope = TensorScope.Begin();
            var x = Tensor.Normal(new[] { 64, 1000 }, 0f, 1f, new Generator(11));
            var w = Tensor.Normal(new[] { 1000 }, 1f, 0.1f, new Generator(12));
            var b = Tensor.Normal(new[] { 1000 }, 0f, 0.1f, new Generator(13));
            var y = x.LayerNorm(w, b).Gelu().Softmax();
            var big = Tensor.Normal(new[] { 300_000 }, 0f, 1f, new Generator(14)).Sum();
            var cols = x.Sum(0);
            return y.ToArray().Concat(cols.ToArray()).Append(big.Item()).ToArray();
        }
        CpuParallel.Threads = 2;
        var two = Run();
        var again = Run();
        CpuParallel.Threads = 1;
        var one = Run();
        Assert.That(again, Is.EqualTo(two));
        Assert.That(one, Is.EqualTo(two));
    }

    [TestCase(new[] { 2, 3, 4, 5 }, new[] { 2, 1, 1, 5 }, true, TestName = "BERT padding mask [B,1,1,T] (fused)")]
    [TestCase(new[] { 2, 3, 4, 5 }, new[] { 4, 5 }, true, TestName = "one [T,T] mask for every batch and head (fused)")]
    [TestCase(new[] { 2, 3, 4, 5 }, new[] { 3, 1, 5 }, true, TestName = "per-head mask [heads,1,T] (fused)")]
    [TestCase(new[] { 2, 3, 4, 5 }, new[] { 5 }, true, TestName = "one row for every row (fused)")]
    [TestCase(new[] { 2, 3, 4, 5 }, new[] { 2, 1, 4, 5 }, false, TestName = "broadcast inside the row block (composed)")]
    [TestCase(new[] { 2, 3, 4, 5 }, new[] { 2, 3, 4, 1 }, false, TestName = "one value per row (composed)")]
    public void Scaled_masked_softmax_equals_the_composed_ops(int[] scores, int[] mask, bool fused)
    {
        var x = Tensor.Normal(scores, 0f, 2f, new Generator(11));
        var m = Tensor.Uniform(mask, -5f, 0f, new Generator(12));
        var expected = (x * 0.35f + m).Softmax().ToArray();
        Tensor y;
        using (var profiler = KernelProfiler.Start())
        {
            y = x.ScaledMaskedSoftmax(0.35f, m);
            // The path that ran, by kernel name: one fused kernel, or scale, add and a plain softmax.
            var kernels = profiler.Records.Select(r => r.Kernel).ToList();
            if (fused) Assert.That(kernels, Is.EqualTo(new[] { "softmax scaled masked" }), "the fused kernel alone ran");
            else Assert.That(kernels, Does.Contain("softmax").And.Not.Contain("softmax scaled masked"), "the composed ops ran");
        }
        Assert.That(y.ToArray(), Is.EqualTo(expected).Within(1e-6));
        var strided = x.Transpose(1, 2).Contiguous().Transpose(1, 2);
        Assert.That(strided.IsContiguous, Is.False);
        Assert.That(strided.ScaledMaskedSoftmax(0.35f, m).ToArray(), Is.EqualTo(expected).Within(1e-6), "non-contiguous scores");
        var e = Assert.Throws<ArgumentException>(() => x.ScaledMaskedSoftmax(0.35f, Tensor.Zeros(3, 5)))!;
        Assert.That(e.Message, Does.Contain("scaled_masked_softmax").And.Contain("[3, 5]"));
    }

    [Test]
    public void Ops_match_scalar_references()
    {
        var x = Tensor.FromArray(new[] { -1.5f, -0.2f, 0f, 0.3f, 2f }, 5);
        var v = x.ToArray();
        Assert.That(x.Gelu().ToArray(), Is.EqualTo(v.Select(a => (float)(0.5 * a * (1 + Erf(a / Math.Sqrt(2))))).ToArray()).Within(1e-6));
        Assert.That(x.Sigmoid().ToArray(), Is.EqualTo(v.Select(a => 1f / (1f + MathF.Exp(-a))).ToArray()).Within(1e-6));
        Assert.That(x.Tanh().ToArray(), Is.EqualTo(v.Select(MathF.Tanh).ToArray()).Within(1e-6));
        var sm = Tensor.FromArray(new[] { 1f, 2f, 3f }, 1, 3).Softmax().ToArray();
        double z = Math.Exp(1) + Math.Exp(2) + Math.Exp(3);
        Assert.That(sm, Is.EqualTo(new[] { Math.Exp(1) / z, Math.Exp(2) / z, Math.Exp(3) / z }.Select(a => (float)a).ToArray()).Within(1e-6));
        var ln = Tensor.FromArray(new[] { 1f, 2f, 3f, 4f }, 1, 4).LayerNorm(Tensor.Ones(4), Tensor.Zeros(4), 0f + 1e-12f).ToArray();
        Assert.That(ln, Is.EqualTo(new[] { -1.3416408f, -0.4472136f, 0.4472136f, 1.3416408f }).Within(1e-5));
        var ce = Tensor.FromArray(new[] { 1f, 2f, 3f }, 1, 3).CrossEntropy(Tensor.FromArray(new[] { 0 }, 1)).Item();
        Assert.That(ce, Is.EqualTo((float)(Math.Log(z) - 1)).Within(1e-5));
        var mm = Tensor.FromArray(new[] { 1f, 2f, 3f, 4f }, 2, 2).Matmul(Tensor.FromArray(new[] { 5f, 6f, 7f, 8f }, 2, 2)).ToArray();
        Assert.That(mm, Is.EqualTo(new[] { 19f, 22f, 43f, 50f }));
        Assert.That(Tensor.FromArray(new[] { 1f, 5f, 3f, 2f }, 2, 2).Max(-1).ToArray(), Is.EqualTo(new[] { 5f, 3f }));
        Assert.That(Tensor.Concat(new[] { Tensor.Ones(1, 2), Tensor.Zeros(1, 2) }, 1).ToArray(), Is.EqualTo(new[] { 1f, 1f, 0f, 0f }));
    }

    [Test]
    public void Dropout_zeroes_about_p_and_scales_the_rest_and_is_identity_in_eval()
    {
        var x = Tensor.Ones(10000);
        var y = x.Dropout(0.25f, training: true, new Generator(3)).ToArray();
        double zeros = y.Count(v => v == 0f) / 10000.0;
        Assert.That(zeros, Is.EqualTo(0.25).Within(0.02));
        Assert.That(y.Where(v => v != 0f), Is.All.EqualTo(1f / 0.75f).Within(1e-6));
        Assert.That(ReferenceEquals(x.Dropout(0.25f, training: false), x), Is.True);
    }

    private static double Erf(double x)
    {
        // Reference by series (converges fast for |x| < 3).
        double sum = 0, term = x;
        for (int n = 0; n < 60; n++)
        {
            sum += term / (2 * n + 1);
            term *= -x * x / (n + 1);
        }
        return 2 / Math.Sqrt(Math.PI) * sum;
    }
}
