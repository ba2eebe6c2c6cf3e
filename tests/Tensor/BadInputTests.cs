using Finetune;

namespace Finetune.Tests.Tensors;

/// <summary>Each op refuses bad input at the door with a message that names the op and the offending shapes or values.</summary>
public class BadInputTests
{
    private TensorScope _scope = null!;

    [SetUp]
    public void Begin() => _scope = TensorScope.Begin();

    [TearDown]
    public void End() => _scope.Dispose();

    private static void Throws<TException>(TestDelegate action, params string[] fragments) where TException : Exception
    {
        var e = Assert.Throws<TException>(action)!;
        foreach (var f in fragments) Assert.That(e.Message, Does.Contain(f), $"message: {e.Message}");
    }

    private static Tensor Z(params int[] shape) => Tensor.Zeros(shape);

    [Test]
    public void Matmul_with_incompatible_inner_dims_names_both_shapes()
    {
        Throws<ArgumentException>(() => Z(2, 3).Matmul(Z(4, 5)), "matmul", "[2, 3]", "[4, 5]", "3 ≠ 4");
        Throws<ArgumentException>(() => Z(2, 2, 3).Matmul(Z(3, 3, 4)), "matmul", "[2]", "[3]");
        Throws<ArgumentException>(() => Tensor.Scalar(1f).Matmul(Z(3)), "matmul", "at least one dim");
    }

    [Test]
    public void Elementwise_with_unbroadcastable_shapes_names_both_shapes()
    {
        Throws<ArgumentException>(() => _ = Z(2, 3) + Z(4), "add", "[2, 3]", "[4]");
        Throws<ArgumentException>(() => _ = Z(2, 3) * Z(3, 2), "mul", "[2, 3]", "[3, 2]");
        Throws<ArgumentException>(() => Tensor.Where(Z(5), Z(2, 3), Z(3)), "where");
    }

    [Test]
    public void Float_ops_on_int_tensors_name_the_dtype()
    {
        var ids = Tensor.FromArray(new[] { 1, 2 }, 2);
        Throws<ArgumentException>(() => _ = ids + Z(2), "add", "int32");
        Throws<ArgumentException>(() => ids.Exp(), "exp", "int32");
        Throws<ArgumentException>(() => ids.Matmul(Z(2, 2)), "matmul", "int32");
        Throws<ArgumentException>(() => Tensor.Embedding(Z(3, 2), Z(2)), "embedding", "int32", "float32");
        Throws<ArgumentException>(() => Z(2, 3).CrossEntropy(Z(2)), "cross_entropy", "int32");
        Throws<InvalidOperationException>(() => ids.RequiresGrad = true, "int32");
    }

    public static IEnumerable<TestCaseData> FloatOps()
    {
        foreach (var (name, op) in new (string, Func<Tensor, Tensor>)[]
        {
            ("neg", x => x.Neg()), ("exp", x => x.Exp()), ("log", x => x.Log()), ("sqrt", x => x.Sqrt()), ("rsqrt", x => x.Rsqrt()),
            ("tanh", x => x.Tanh()), ("relu", x => x.Relu()), ("sigmoid", x => x.Sigmoid()), ("abs", x => x.Abs()),
            ("gelu", x => x.Gelu()), ("gelu_tanh", x => x.Gelu(tanhApproximation: true)), ("scale", x => x.Scale(2f)),
            ("pow", x => x.Pow(2f)), ("add_scalar", x => x.AddScalar(1f)), ("sum", x => x.Sum()), ("max", x => x.Max(0)),
            ("softmax", x => x.Softmax()), ("log_softmax", x => x.LogSoftmax()), ("dropout", x => x.Dropout(0.5f, true)),
            ("layer_norm", x => x.LayerNorm(Tensor.Ones(2), Tensor.Zeros(2))), ("sub", x => x - Tensor.Zeros(2)),
            ("div", x => x / Tensor.Ones(2)), ("linear", x => Tensor.Linear(x, Tensor.Ones(3, 2))),
        })
            yield return new TestCaseData(name, op).SetName($"Op_{name}_refuses_int32_input_naming_itself");
    }

    [TestCaseSource(nameof(FloatOps))]
    public void Float_op_refuses_int32_input(string name, Func<Tensor, Tensor> op)
    {
        var ids = Tensor.FromArray(new[] { 1, 2 }, 2);
        var e = Assert.Catch<ArgumentException>(() => op(ids))!;
        Assert.That(e.Message, Does.Contain(name.Replace("_tanh", "")).And.Contain("int32"));
    }

    [Test]
    public void Reductions_name_an_out_of_range_dim()
    {
        Throws<ArgumentOutOfRangeException>(() => Z(2, 3).Max(2), "max", "dim 2");
        Throws<ArgumentOutOfRangeException>(() => Z(2, 3).Mean(-3), "mean", "dim -3");
        Throws<ArgumentException>(() => Z(2, 0).Max(1), "max", "empty");
        Throws<ArgumentException>(() => Z(2, 3).Sum(new[] { 1, 1 }), "sum", "repeated");
    }

    [Test]
    public void Tensors_on_different_devices_are_refused()
    {
        var cpu = Z(2);
        var other = new Device(DeviceKind.Cuda, 7);
        Throws<InvalidOperationException>(() => cpu.To(other), "cuda:7");
    }

    [Test]
    public void Embedding_id_out_of_range_names_position_and_value()
    {
        var table = Z(5, 3);
        Throws<ArgumentOutOfRangeException>(() => Tensor.Embedding(table, Tensor.FromArray(new[] { 0, 7, 1 }, 3)), "embedding", "ids[1] = 7", "[0, 5)");
        Throws<ArgumentOutOfRangeException>(() => Tensor.Embedding(table, Tensor.FromArray(new[] { -1 }, 1)), "ids[0] = -1");
        Throws<ArgumentException>(() => Tensor.Embedding(Z(5), Tensor.FromArray(new[] { 0 }, 1)), "embedding", "[vocab, dim]");
    }

    [Test]
    public void Cross_entropy_target_out_of_range_names_row_and_value()
    {
        var logits = Z(3, 4);
        Throws<ArgumentOutOfRangeException>(() => logits.CrossEntropy(Tensor.FromArray(new[] { 0, 4, 1 }, 3)), "cross_entropy", "targets[1] = 4", "[0, 4)");
        Throws<ArgumentException>(() => logits.CrossEntropy(Tensor.FromArray(new[] { 0, 1 }, 2)), "cross_entropy", "[3, 4]", "[2]");
    }

    [Test]
    public void Slice_and_narrow_out_of_bounds_name_the_range_and_size()
    {
        var x = Z(3, 4);
        Throws<ArgumentOutOfRangeException>(() => x.Narrow(1, 2, 3), "narrow", "[2, 5)", "size 4");
        Throws<ArgumentOutOfRangeException>(() => x.Slice(0, 1, 5), "slice", "size 3");
        Throws<ArgumentOutOfRangeException>(() => x.Sum(2), "sum", "dim 2", "rank 2");
        Throws<ArgumentOutOfRangeException>(() => x.Transpose(0, -3), "transpose", "dim -3");
    }

    [Test]
    public void View_and_expand_with_wrong_shapes_name_both()
    {
        var x = Z(3, 4);
        Throws<ArgumentException>(() => x.View(5, 2), "view", "[3, 4]", "[5, 2]");
        Throws<ArgumentException>(() => x.View(-1, -1), "view", "only one dimension can be -1");
        Throws<InvalidOperationException>(() => x.T.View(12), "view", "not contiguous");
        Throws<ArgumentException>(() => x.Expand(3, 5), "expand", "[3, 4]", "[3, 5]");
        Throws<ArgumentException>(() => x.Squeeze(0), "squeeze", "size 3");
        Throws<ArgumentException>(() => x.Permute(0, 0), "permute", "repeated");
        Throws<ArgumentException>(() => Tensor.FromArray(new float[5], 2, 3), "from_array", "5 values", "[2, 3]");
    }

    [Test]
    public void Layer_norm_and_softmax_check_their_arguments()
    {
        var x = Z(2, 4);
        Throws<ArgumentException>(() => x.LayerNorm(Z(3), Z(4)), "layer_norm", "[3]", "[4]");
        Throws<ArgumentOutOfRangeException>(() => x.LayerNorm(Z(4), Z(4), 0f), "layer_norm", "eps");
        Throws<ArgumentException>(() => x.Softmax(0), "softmax", "last dim");
        Throws<ArgumentOutOfRangeException>(() => x.Dropout(1.5f, true), "dropout", "[0, 1]");
        Throws<ArgumentException>(() => Tensor.Concat(new[] { Z(2, 3), Z(3, 2) }, 0), "concat", "[3, 2]", "[2, 3]");
        Throws<ArgumentException>(() => x.MaskedFill(Z(3, 4), 0f), "masked_fill");
    }

    [Test]
    public void Backward_twice_without_retain_graph_names_the_freed_op()
    {
        var w = Tensor.Ones(3).Keep();
        w.RequiresGrad = true;
        var loss = (w * w).Sum();
        loss.Backward();
        Throws<InvalidOperationException>(() => loss.Backward(), "already freed", "retainGraph");
        w.Dispose();
    }

    [Test]
    public void Backward_of_a_non_scalar_without_a_gradient_is_refused()
    {
        var w = Tensor.Ones(3).Keep();
        w.RequiresGrad = true;
        var y = w * 2f;
        Throws<InvalidOperationException>(() => y.Backward(), "non-scalar", "[3]");
        Throws<ArgumentException>(() => y.Backward(Tensor.Ones(4)), "gradient shape [4]", "[3]");
        Throws<InvalidOperationException>(() => Tensor.Ones(2).Sum().Backward(), "does not require grad");
        w.Dispose();
    }

    [Test]
    public void Backward_after_the_forward_scope_ended_says_the_graph_was_freed()
    {
        var w = Tensor.Ones(3).Keep();
        w.RequiresGrad = true;
        Tensor loss;
        using (var inner = TensorScope.Begin())
        {
            loss = inner.Return((w.Exp() * w).Sum());
        }
        // loss survived, but the tensors its backward needs (exp's output) were freed with the inner scope.
        Throws<InvalidOperationException>(() => loss.Backward(), "already freed", "TensorScope");
        w.Dispose();
    }

    [Test]
    public void Using_a_disposed_tensor_names_it()
    {
        var x = Tensor.Zeros(2, 2);
        x.Dispose();
        Throws<ObjectDisposedException>(() => x.Exp(), "[2, 2]", "disposed");
    }

    [Test]
    public void NaN_finder_names_the_first_op_that_produced_a_non_finite_value()
    {
        var x = Tensor.FromArray(new[] { 1f, 0f, 2f }, 3);
        using (AnomalyMode.Detect())
        {
            var e = Assert.Throws<NonFiniteException>(() => x.Exp().Log().Scale(0.5f).Log())!;
            Assert.That(e.Op, Is.EqualTo("log"));
            Assert.That(e.Phase, Is.EqualTo("forward"));
            Assert.That(e.Message, Does.Contain("-Infinity").And.Contain("[3]"));
        }
        // Outside the detector the same computation runs through.
        Assert.DoesNotThrow(() => x.Log());
    }

    [Test]
    public void NaN_finder_catches_a_non_finite_gradient_in_backward()
    {
        var x = Tensor.FromArray(new[] { 0f, 1f }, 2).Keep();
        x.RequiresGrad = true;
        using (AnomalyMode.Detect())
        {
            var y = x.Sqrt().Sum(); // finite forward, infinite gradient at 0
            var e = Assert.Throws<NonFiniteException>(() => y.Backward())!;
            Assert.That(e.Op, Is.EqualTo("sqrt"));
            Assert.That(e.Phase, Is.EqualTo("backward"));
        }
        x.Dispose();
    }
}
