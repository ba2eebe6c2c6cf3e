using Finetune.Nn;
using Finetune.Nn.IO;

namespace Finetune.Tests.Peft;

/// <summary>
/// Checks one adapted BERT layer against a PyTorch fixture (bench/peers/make_*_layer_fixture.py): loads the
/// fixture's "param.*" weights, then compares the output, the input gradient and every trainable parameter's
/// gradient, and that frozen parameters got none.
/// </summary>
internal static class LayerParity
{
    public const double Tolerance = 1e-4;

    public static Dictionary<string, Tensor> LoadFixture(string name) =>
        SafeTensors.Load(Path.Combine(TestContext.CurrentContext.TestDirectory, "fixtures", name));

    public static void AssertMatches(BertLayer layer, Dictionary<string, Tensor> f, int expectedTrainable, string trainableWhat)
    {
        var state = f.Where(kv => kv.Key.StartsWith("param.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key["param.".Length..], kv => kv.Value);
        layer.LoadStateDict(state, strict: true, "fixture");
        using var scope = TensorScope.Begin();
        var x = f["input"];
        x.RequiresGrad = true;
        var y = layer.Forward(x, BertModel.AdditiveMask(f["attention_mask"]));
        Compare("output", y.ToArray(), f["output"].ToArray());
        y.Backward(f["grad_output"]);
        Compare("grad.input", x.Grad!.ToArray(), f["grad.input"].ToArray());
        int compared = 0;
        foreach (var (name, p) in layer.NamedParameters())
        {
            if (!p.Trainable)
            {
                Assert.That(p.Grad, Is.Null, name);
                continue;
            }
            Assert.That(f.ContainsKey("grad." + name), name);
            Compare("grad." + name, p.Grad!.ToArray(), f["grad." + name].ToArray());
            compared++;
        }
        Assert.That(compared, Is.EqualTo(expectedTrainable), trainableWhat);
    }

    private static void Compare(string what, float[] actual, float[] expected)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what);
        double maxErr = actual.Zip(expected, (a, e) => (double)Math.Abs(a - e)).Max();
        double scale = expected.Max(e => Math.Abs(e));
        TestContext.Out.WriteLine($"{what}: max abs error vs PyTorch {maxErr:E2} (max |value| {scale:F3})");
        Assert.That(maxErr, Is.LessThan(Tolerance), what);
    }
}
