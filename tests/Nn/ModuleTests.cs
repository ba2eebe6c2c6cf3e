using Finetune.Nn;

namespace Finetune.Tests.Nn;

public class ModuleTests
{
    private sealed class TwoLayer : Layer
    {
        public TwoLayer(Generator g)
        {
            RegisterModule("first", new Linear(4, 3, generator: g));
            RegisterModule("norm", new LayerNorm(3));
            RegisterModule("second", new Linear(3, 2, bias: false, generator: g));
        }

        protected override Tensor ForwardCore(Tensor x) =>
            Child<Layer>("second").Forward(Child<Layer>("norm").Forward(Child<Layer>("first").Forward(x)).Gelu());
    }

    [Test]
    public void Named_parameters_have_dotted_paths_in_registration_order()
    {
        using var m = new TwoLayer(new Generator(1));
        Assert.That(m.NamedParameters().Select(p => p.Key), Is.EqualTo(new[]
        {
            "first.weight", "first.bias", "norm.weight", "norm.bias", "second.weight",
        }));
        Assert.That(m.ParameterCounts(), Is.EqualTo((12L + 3 + 3 + 3 + 6, 12L + 3 + 3 + 3 + 6)));
    }

    [Test]
    public void Linear_computes_x_times_weight_transposed_plus_bias()
    {
        using var lin = new Linear(3, 2, generator: new Generator(7));
        var w = lin.Weight.Value.ToArray();
        var b = lin.Bias!.Value.ToArray();
        Assert.That(lin.Weight.Shape, Is.EqualTo(new[] { 2, 3 }));
        var x = new float[] { 1f, -2f, 0.5f, 3f, 0f, -1f };
        using var scope = TensorScope.Begin();
        var y = lin.Forward(Tensor.FromArray(x, 2, 3)).ToArray();
        for (int r = 0; r < 2; r++)
            for (int o = 0; o < 2; o++)
            {
                float e = b[o];
                for (int i = 0; i < 3; i++) e += x[r * 3 + i] * w[o * 3 + i];
                Assert.That(y[r * 2 + o], Is.EqualTo(e).Within(1e-5f));
            }
    }

    [Test]
    public void Linear_init_is_seeded_and_bounded()
    {
        using var a = new Linear(16, 8, generator: new Generator(3));
        using var b = new Linear(16, 8, generator: new Generator(3));
        using var c = new Linear(16, 8, generator: new Generator(4));
        Assert.That(a.Weight.Value.ToArray(), Is.EqualTo(b.Weight.Value.ToArray()));
        Assert.That(a.Weight.Value.ToArray(), Is.Not.EqualTo(c.Weight.Value.ToArray()));
        Assert.That(a.Weight.Value.ToArray().Max(Math.Abs), Is.LessThanOrEqualTo(0.25f));
    }

    [Test]
    public void Parameters_survive_the_scope_they_were_created_in()
    {
        Linear lin;
        using (TensorScope.Begin()) lin = new Linear(2, 2, generator: new Generator(1));
        using (lin)
        {
            Assert.That(lin.Weight.Value.IsDisposed, Is.False);
            Assert.That(lin.Weight.Value.ToArray(), Has.Length.EqualTo(4));
        }
    }

    [Test]
    public void Frozen_parameters_get_no_gradient_buffer()
    {
        using var m = new TwoLayer(new Generator(2));
        Assert.That(m.FreezeMatching("first.*"), Is.EqualTo(2));
        using (TensorScope.Begin())
        {
            var loss = m.Forward(Tensor.Uniform(new[] { 5, 4 }, -1, 1, new Generator(9))).Sum();
            loss.Backward();
        }
        foreach (var (name, p) in m.NamedParameters())
        {
            if (name.StartsWith("first.", StringComparison.Ordinal))
                Assert.That(p.Grad, Is.Null, name);
            else
                Assert.That(p.Grad, Is.Not.Null, name);
        }
        Assert.That(m.TrainableParameters().Count(), Is.EqualTo(3));
        Assert.That(m.ParameterCounts().Trainable, Is.EqualTo(3 + 3 + 6));
    }

    [Test]
    public void Glob_and_regex_freezing_select_by_path()
    {
        using var m = new TwoLayer(new Generator(2));
        Assert.That(m.FreezeMatching("**.bias"), Is.EqualTo(2));
        Assert.That(m.FreezeWhere(new System.Text.RegularExpressions.Regex("^second\\.")), Is.EqualTo(1));
        Assert.That(m.NamedParameters().Where(p => p.Value.Trainable).Select(p => p.Key),
            Is.EqualTo(new[] { "first.weight", "norm.weight" }));
        m.Unfreeze();
        Assert.That(m.ParameterCounts().Trainable, Is.EqualTo(m.ParameterCounts().Total));
    }

    [Test]
    public void Train_and_eval_propagate_to_children_and_dropout()
    {
        using var m = new TwoLayer(new Generator(2));
        m.Eval();
        Assert.That(m.NamedModules().All(x => !x.Value.Training), Is.True);
        var drop = new Dropout(0.5f, new Generator(5));
        using var x = Tensor.Ones(100);
        drop.Eval();
        using (TensorScope.Begin()) Assert.That(drop.Forward(x).ToArray(), Is.All.EqualTo(1f));
        drop.Train();
        using (TensorScope.Begin()) Assert.That(drop.Forward(x).ToArray(), Has.Some.EqualTo(0f).And.Some.EqualTo(2f));
    }

    [Test]
    public void State_dict_round_trips_into_a_fresh_module()
    {
        using var a = new TwoLayer(new Generator(1));
        using var b = new TwoLayer(new Generator(2));
        var state = a.StateDict();
        Assert.That(b.LoadStateDict(state), Has.Count.EqualTo(5));
        foreach (var (name, p) in a.NamedParameters())
            Assert.That(b.GetParameter(name).Value.ToArray(), Is.EqualTo(p.Value.ToArray()), name);
        foreach (var t in state.Values) t.Dispose();
    }

    [Test]
    public void Loading_a_state_dict_with_wrong_shapes_or_names_names_them_all()
    {
        using var m = new TwoLayer(new Generator(1));
        using var wrong = Tensor.Zeros(3, 3);
        using var extra = Tensor.Zeros(1);
        var state = m.StateDict();
        state["first.weight"] = wrong;
        state["third.weight"] = extra;
        state.Remove("norm.bias");
        var e = Assert.Throws<InvalidDataException>(() => m.LoadStateDict(state))!;
        Assert.That(e.Message, Does.Contain("'first.weight' has shape [3, 3]").And.Contain("[3, 4]")
            .And.Contain("unexpected tensor 'third.weight'").And.Contain("missing tensor 'norm.bias'"));
        Assert.That(m.LoadStateDict(new Dictionary<string, Tensor> { ["norm.bias"] = Tensor.Ones(3) }, strict: false), Has.Count.EqualTo(1));
        Assert.That(m.GetParameter("norm.bias").Value.ToArray(), Is.All.EqualTo(1f));
    }

    [Test]
    public void Replacing_a_child_changes_the_forward_path()
    {
        using var m = new TwoLayer(new Generator(1));
        var old = m.ReplaceChild("second", new Linear(3, 2, bias: false, generator: new Generator(8)));
        old.Dispose();
        Assert.That(m.GetSubmodule("second"), Is.Not.SameAs(old));
        using (TensorScope.Begin())
            Assert.That(m.Forward(Tensor.Ones(1, 4)).Shape, Is.EqualTo(new[] { 1, 2 }));
    }
}
