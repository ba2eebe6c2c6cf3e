namespace Finetune.Tests.Cuda;

/// <summary>
/// Every tensor op, forward and backward through autograd, on cuda:0 against the CPU: the same seeded inputs,
/// the loss and every input gradient compared. Tolerance rtol 1e-4 / atol 1e-5 (chains of float32 kernels).
/// </summary>
public class TensorOpsTests : CudaFixture
{
    public TensorOpsTests(string kind) : base(kind) { }

    public sealed record OpCase(string Name, int[][] Shapes, float Low, float High, Func<Tensor[], Tensor> F)
    {
        public override string ToString() => Name;
    }

    private static readonly float[] Positive = { 0.3f, 2f };

    public static IEnumerable<OpCase> Cases()
    {
        int[] v = { 3, 5 };
        yield return new("neg", new[] { v }, -2, 2, x => x[0].Neg());
        yield return new("exp", new[] { v }, -2, 2, x => x[0].Exp());
        yield return new("log", new[] { v }, Positive[0], Positive[1], x => x[0].Log());
        yield return new("sqrt", new[] { v }, Positive[0], Positive[1], x => x[0].Sqrt());
        yield return new("rsqrt", new[] { v }, Positive[0], Positive[1], x => x[0].Rsqrt());
        yield return new("tanh", new[] { v }, -2, 2, x => x[0].Tanh());
        yield return new("relu", new[] { v }, -2, 2, x => x[0].Relu());
        yield return new("sigmoid", new[] { v }, -2, 2, x => x[0].Sigmoid());
        yield return new("abs", new[] { v }, -2, 2, x => x[0].Abs());
        yield return new("gelu", new[] { v }, -3, 3, x => x[0].Gelu());
        yield return new("gelu_tanh", new[] { v }, -3, 3, x => x[0].Gelu(tanhApproximation: true));
        yield return new("scale", new[] { v }, -2, 2, x => x[0].Scale(-0.7f));
        yield return new("pow", new[] { v }, Positive[0], Positive[1], x => x[0].Pow(2.5f));
        yield return new("add_scalar", new[] { v }, -2, 2, x => x[0].AddScalar(3f));
        yield return new("add_broadcast", new[] { new[] { 2, 3, 4 }, new[] { 3, 1 } }, -2, 2, x => x[0] + x[1]);
        yield return new("sub_broadcast", new[] { new[] { 4 }, new[] { 3, 4 } }, -2, 2, x => x[0] - x[1]);
        yield return new("mul_transposed", new[] { new[] { 4, 3 }, new[] { 3, 4 } }, -2, 2, x => x[0].T * x[1]);
        yield return new("div", new[] { new[] { 3, 4 }, new[] { 4 } }, Positive[0], Positive[1], x => x[0] / x[1]);
        yield return new("where", new[] { new[] { 3, 4 }, new[] { 3, 4 } }, -2, 2,
            x => Tensor.Where(Tensor.Gt(x[0], x[1]), x[0].Exp(), x[1].Scale(2f)));
        yield return new("sum_dims", new[] { new[] { 2, 3, 4 } }, -2, 2, x => x[0].Sum(new[] { 0, 2 }));
        yield return new("mean", new[] { new[] { 5, 6 } }, -2, 2, x => x[0].Mean(1, keepDim: true));
        yield return new("max", new[] { new[] { 4, 7 } }, -2, 2, x => x[0].Max(1));
        yield return new("softmax", new[] { new[] { 3, 37 } }, -4, 4, x => x[0].Softmax());
        yield return new("log_softmax", new[] { new[] { 3, 37 } }, -4, 4, x => x[0].LogSoftmax());
        yield return new("layer_norm", new[] { new[] { 4, 24 }, new[] { 24 }, new[] { 24 } }, -2, 2, x => x[0].LayerNorm(x[1], x[2]));
        yield return new("matmul", new[] { new[] { 5, 6 }, new[] { 6, 3 } }, -1, 1, x => x[0].Matmul(x[1]));
        yield return new("matmul_batched_broadcast", new[] { new[] { 2, 4, 6 }, new[] { 6, 3 } }, -1, 1, x => Tensor.Matmul(x[0].Transpose(1, 2).Transpose(1, 2), x[1]));
        yield return new("matmul_transposed", new[] { new[] { 6, 5 }, new[] { 3, 6 } }, -1, 1, x => x[0].T.Matmul(x[1].T));
        yield return new("concat_narrow", new[] { new[] { 2, 3 }, new[] { 2, 5 } }, -1, 1, x => Tensor.Concat(new[] { x[0], x[1] }, 1).Narrow(1, 1, 6));
        int[][] adapter = { new[] { 5, 6 }, new[] { 5, 6 }, new[] { 3, 6 }, new[] { 3 }, new[] { 6, 3 }, new[] { 6 } };
        yield return new("bottleneck_adapter_relu", adapter, -1, 1, x => Tensor.BottleneckAdapter(x[0], x[1], x[2], x[3], x[4], x[5], 2.5f, false));
        yield return new("bottleneck_adapter_gelu", adapter, -1, 1, x => Tensor.BottleneckAdapter(x[0], x[1], x[2], x[3], x[4], x[5], 1f, true));
        yield return new("permute_contiguous", new[] { new[] { 2, 3, 4 } }, -1, 1, x => x[0].Permute(2, 0, 1).Contiguous().Exp());
    }

    /// <summary>Runs <paramref name="f"/> on <paramref name="device"/>; returns the output, then each input's gradient.</summary>
    private static List<float[]> ForwardBackward(OpCase c, Device device)
    {
        var inputs = c.Shapes.Select((s, i) =>
        {
            int n = s.Aggregate(1, (a, b) => a * b);
            var t = Tensor.FromArray(Random(n, c.Low, c.High, 300 + (ulong)i), s, device).Keep();
            t.RequiresGrad = true;
            return t;
        }).ToArray();
        try
        {
            using var y = c.F(inputs);
            int count = (int)y.Count;
            using var weights = Tensor.FromArray(Random(count, -1f, 1f, 399), y.Shape.ToArray(), device);
            using var loss = (y * weights).Sum();
            loss.Backward();
            var result = new List<float[]> { y.ToArray() };
            result.AddRange(inputs.Select(x => x.Grad!.ToArray()));
            return result;
        }
        finally
        {
            foreach (var x in inputs) x.Dispose();
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void Op_forward_and_backward_match_cpu(OpCase c)
    {
        var cpu = ForwardBackward(c, Device.Cpu);
        var cuda = ForwardBackward(c, Device.Cuda(0));
        for (int i = 0; i < cpu.Count; i++)
            AssertClose(cpu[i], cuda[i], 1e-4f, 1e-5f, i == 0 ? $"{c.Name} output" : $"{c.Name} grad of input {i - 1}");
    }

    [Test]
    public void Embedding_dropout_and_cross_entropy_match_cpu()
    {
        List<float[]> Run(Device device)
        {
            var table = Tensor.FromArray(Random(10 * 6, -1f, 1f, 311), new[] { 10, 6 }, device).Keep();
            table.RequiresGrad = true;
            try
            {
                using var ids = Tensor.FromArray(new[] { 1, 4, 4, 9, 0, 1 }, new[] { 2, 3 }, device);
                using var targets = Tensor.FromArray(new[] { 2, -100, 5, 0, 1, 3 }, new[] { 2, 3 }, device);
                using var e = Tensor.Embedding(table, ids);
                using var d = e.Dropout(0.25f, training: true, new Generator(5));
                using var loss = d.CrossEntropy(targets);
                loss.Backward();
                return new List<float[]> { d.ToArray(), new[] { loss.Item() }, table.Grad!.ToArray() };
            }
            finally
            {
                table.Dispose();
            }
        }
        var cpu = Run(Device.Cpu);
        var cuda = Run(Device.Cuda(0));
        AssertClose(cpu[0], cuda[0], 0f, 0f, "dropout(embedding): the same Philox mask on both");
        AssertClose(cpu[1], cuda[1], 1e-5f, 1e-6f, "cross_entropy");
        AssertClose(cpu[2], cuda[2], 1e-4f, 1e-6f, "embedding grad");
    }

    [Test]
    public void To_copies_across_devices_and_gradients_flow_back()
    {
        var x = Tensor.FromArray(new float[] { 1, -2, 3, -4, 5, -6 }, 2, 3).Keep();
        x.RequiresGrad = true;
        using var onCuda = x.To(Device.Cuda(0));
        Assert.That(onCuda.Device, Is.EqualTo(Device.Cuda(0)));
        using var y = onCuda.Relu().Sum();
        using var back = y.To(Device.Cpu);
        back.Backward();
        Assert.That(x.Grad!.ToArray(), Is.EqualTo(new float[] { 1, 0, 1, 0, 1, 0 }));
        Assert.That(onCuda.T.ToArray(), Is.EqualTo(new float[] { 1, -4, -2, 5, 3, -6 }), "non-contiguous read back");
        x.Dispose();
    }

    [Test]
    public void Ops_on_mixed_devices_name_both_devices()
    {
        using var a = Tensor.Ones(new[] { 2, 2 }, Device.Cpu);
        using var b = Tensor.Ones(new[] { 2, 2 }, Device.Cuda(0));
        var e = Assert.Throws<ArgumentException>(() => Tensor.Add(a, b));
        Assert.That(e!.Message, Does.Contain("cpu").And.Contain("cuda:0"));
        Assert.Throws<InvalidOperationException>(() => b.Buffer.AsSpan<float>(0, 4), "host access to device memory is refused");
    }
}
