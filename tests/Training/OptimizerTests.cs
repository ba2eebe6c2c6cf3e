using System.Text.Json;
using Finetune;
using Finetune.Nn.Optim;

namespace Finetune.Tests.Training;

public class OptimizerTests
{
    private static JsonElement Fixture()
    {
        var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "tests", "fixtures", "optimizers.json"))) dir = dir.Parent;
        Assert.That(dir, Is.Not.Null, "tests/fixtures/optimizers.json not found above the test directory");
        return JsonDocument.Parse(File.ReadAllText(Path.Combine(dir!.FullName, "tests", "fixtures", "optimizers.json"))).RootElement;
    }

    private static float[] Floats(JsonElement e) => e.EnumerateArray().Select(v => v.GetSingle()).ToArray();

    private static void FollowTorch(string name, Func<List<NamedParameter>, Optimizer> make)
    {
        var fx = Fixture();
        var w = Tensor.FromArray(Floats(fx.GetProperty("weight0")), 3, 4).Keep();
        var b = Tensor.FromArray(Floats(fx.GetProperty("bias0")), 4).Keep();
        w.RequiresGrad = b.RequiresGrad = true;
        var ps = new List<NamedParameter> { new("layer.weight", w), new("layer.bias", b) };
        using var opt = make(ps);
        var grads = fx.GetProperty("grads").EnumerateArray().ToList();
        var expected = fx.GetProperty("cases").GetProperty(name).EnumerateArray().ToList();
        for (int step = 0; step < grads.Count; step++)
        {
            using (var scope = TensorScope.Begin())
            {
                // Seed the gradients through autograd: d(sum(p·g))/dp = g.
                var gw = Tensor.FromArray(Floats(grads[step].GetProperty("weight")), 3, 4);
                var gb = Tensor.FromArray(Floats(grads[step].GetProperty("bias")), 4);
                ((w * gw).Sum() + (b * gb).Sum()).Backward();
            }
            opt.Step();
            opt.ZeroGrad();
            Assert.That(w.ToArray(), Is.EqualTo(Floats(expected[step].GetProperty("weight"))).Within(2e-6), $"{name} weight after step {step + 1}");
            Assert.That(b.ToArray(), Is.EqualTo(Floats(expected[step].GetProperty("bias"))).Within(2e-6), $"{name} bias after step {step + 1}");
        }
        w.Dispose();
        b.Dispose();
    }

    [Test]
    public void AdamW_follows_torch_with_decoupled_decay_and_no_decay_on_biases() =>
        FollowTorch("adamw", ps => new AdamW(ps, learningRate: 0.01f, beta1: 0.9f, beta2: 0.98f, eps: 1e-6f, weightDecay: 0.1f));

    [Test]
    public void Sgd_with_momentum_and_weight_decay_follows_torch() =>
        FollowTorch("sgd_momentum", ps => new Sgd(ps, 0.1f, momentum: 0.9f, weightDecay: 0.01f));

    [Test]
    public void Sgd_with_nesterov_momentum_follows_torch() =>
        FollowTorch("sgd_nesterov", ps => new Sgd(ps, 0.1f, momentum: 0.9f, nesterov: true));

    [Test]
    public void Frozen_parameters_get_no_optimizer_state_and_stay_bit_identical()
    {
        var frozen = Tensor.Ones(4, 4).Keep();
        var trained = Tensor.Ones(4).Keep();
        trained.RequiresGrad = true;
        var before = frozen.ToArray();
        using var opt = new AdamW(new[] { new NamedParameter("base.weight", frozen), new NamedParameter("head.bias", trained) }, 0.1f);
        Assert.That(opt.Parameters.Select(p => p.Name), Is.EqualTo(new[] { "head.bias" }));
        for (int i = 0; i < 3; i++)
        {
            using (TensorScope.Begin()) (frozen.Matmul(trained) * trained).Sum().Backward();
            opt.Step();
            opt.ZeroGrad();
        }
        Assert.That(frozen.Grad, Is.Null);
        Assert.That(frozen.ToArray(), Is.EqualTo(before));
        Assert.That(opt.StateTensors().Select(s => s.Name), Is.EquivalentTo(new[] { "head.bias/0", "head.bias/1" }));
        frozen.Dispose();
        trained.Dispose();
    }

    [Test]
    public void Schedules_warm_up_linearly_then_decay()
    {
        var linear = new LearningRateSchedule(WarmupSteps: 4, TotalSteps: 14);
        Assert.That(linear.Factor(0), Is.EqualTo(0.2f).Within(1e-6));
        Assert.That(linear.Factor(3), Is.EqualTo(0.8f).Within(1e-6));
        Assert.That(linear.Factor(4), Is.EqualTo(1f).Within(1e-6));
        Assert.That(linear.Factor(9), Is.EqualTo(0.5f).Within(1e-6));
        Assert.That(linear.Factor(14), Is.EqualTo(0f).Within(1e-6));
        var cosine = new LearningRateSchedule(0, 10, DecayKind.Cosine, FinalFraction: 0.1f);
        Assert.That(cosine.Factor(5), Is.EqualTo(0.55f).Within(1e-6));
        Assert.That(cosine.Factor(10), Is.EqualTo(0.1f).Within(1e-6));
    }

    [Test]
    public void Clipping_scales_gradients_to_the_global_norm()
    {
        var a = Tensor.Zeros(2).Keep();
        var b = Tensor.Zeros(1).Keep();
        a.RequiresGrad = b.RequiresGrad = true;
        using (TensorScope.Begin())
            ((a * Tensor.FromArray(new[] { 3f, 0f }, 2)).Sum() + (b * Tensor.FromArray(new[] { 4f }, 1)).Sum()).Backward();
        var ps = new[] { new NamedParameter("a", a), new NamedParameter("b", b) };
        Assert.That(GradientClipping.ClipGlobalNorm(ps, 1f), Is.EqualTo(5f).Within(1e-5));
        Assert.That(a.Grad!.ToArray(), Is.EqualTo(new[] { 0.6f, 0f }).Within(1e-5));
        Assert.That(b.Grad!.ToArray(), Is.EqualTo(new[] { 0.8f }).Within(1e-5));
        Assert.That(GradientClipping.ClipGlobalNorm(ps, 10f), Is.EqualTo(1f).Within(1e-5));
        Assert.That(b.Grad!.ToArray(), Is.EqualTo(new[] { 0.8f }).Within(1e-5), "under the limit nothing changes");
        a.Dispose();
        b.Dispose();
    }

    [Test]
    public void Bad_hyper_parameters_are_refused_with_their_names()
    {
        var p = new[] { new NamedParameter("w", Tensor.Ones(1)) };
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW(p, beta1: 1f))!.Message, Does.Contain("beta1"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW(p, learningRate: -1f))!.Message, Does.Contain("learning rate"));
        Assert.That(Assert.Throws<ArgumentException>(() => new Sgd(p, 0.1f, nesterov: true))!.Message, Does.Contain("Nesterov"));
    }
}
