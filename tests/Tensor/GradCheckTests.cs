using Finetune;

namespace Finetune.Tests.Tensors;

public class GradCheckTests
{
    [Test]
    public void GradCheck_rejects_a_backward_that_is_off_by_a_factor()
    {
        var x = Tensor.Uniform(new[] { 6 }, -1f, 1f, new Generator(3)).Keep();
        x.RequiresGrad = true;
        // y = x², with a backward that returns x instead of 2x.
        Func<Tensor[], Tensor> wrong = xs =>
        {
            var input = xs[0];
            var y = input.Pow(2f).Detach();
            return Tensor.Finish(y, "wrong_square", new[] { input }, g => new[] { Tensor.Mul(g, input) });
        };
        var e = Assert.Throws<InvalidOperationException>(() => GradCheck.Assert(wrong, new[] { x }, what: "wrong_square"));
        Assert.That(e!.Message, Does.Contain("wrong_square").And.Contain("differ"));
        x.Dispose();
    }

    [Test]
    public void GradCheck_accepts_the_same_op_with_the_right_backward()
    {
        var x = Tensor.Uniform(new[] { 6 }, -1f, 1f, new Generator(3)).Keep();
        x.RequiresGrad = true;
        Func<Tensor[], Tensor> right = xs =>
        {
            var input = xs[0];
            var y = input.Pow(2f).Detach();
            return Tensor.Finish(y, "square", new[] { input }, g => new[] { Tensor.Mul(g, input) * 2f });
        };
        Assert.DoesNotThrow(() => GradCheck.Assert(right, new[] { x }));
        x.Dispose();
    }
}
