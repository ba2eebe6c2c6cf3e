using Finetune.Kernels;

namespace Finetune;

/// <summary>
/// Compares autograd gradients with central differences. The function's output is projected onto a fixed
/// random direction and the projection, the differences and the comparison are done in float64.
/// </summary>
public static class GradCheck
{
    public sealed record Mismatch(int Input, int Index, double Analytic, double Numeric);

    /// <summary>Throws <see cref="InvalidOperationException"/> describing the worst element when any gradient is off.</summary>
    public static void Assert(Func<Tensor[], Tensor> f, Tensor[] inputs, double eps = 3e-3, double atol = 2e-3, double rtol = 2e-2,
        string? what = null)
    {
        var bad = Compare(f, inputs, eps, atol, rtol);
        if (bad.Count == 0) return;
        var worst = bad.MaxBy(m => Math.Abs(m.Analytic - m.Numeric))!;
        throw new InvalidOperationException(
            $"gradcheck{(what is null ? "" : " of " + what)}: {bad.Count} element(s) differ; worst: input {worst.Input} [{worst.Index}] " +
            $"analytic {worst.Analytic:G6} vs numeric {worst.Numeric:G6} (eps {eps}, atol {atol}, rtol {rtol})");
    }

    public static List<Mismatch> Compare(Func<Tensor[], Tensor> f, Tensor[] inputs, double eps, double atol, double rtol)
    {
        foreach (var x in inputs)
            if (x.DType == DType.Float32 && !x.IsContiguous)
                throw new ArgumentException($"gradcheck: input {x.Describe()} must be contiguous; apply views inside the function");
        double[] direction;
        double[][] analytic = new double[inputs.Length][];
        using (var scope = TensorScope.Begin())
        {
            var y = f(inputs);
            var gen = new Generator(1234);
            using var r = Tensor.Uniform(y._shape, -1f, 1f, gen, y.Device);
            direction = r.ToArray().Select(v => (double)v).ToArray();
            foreach (var x in inputs) x.ZeroGrad();
            y.Backward(r);
            for (int i = 0; i < inputs.Length; i++)
                analytic[i] = inputs[i].RequiresGrad
                    ? inputs[i].Grad?.ToArray().Select(v => (double)v).ToArray() ?? new double[inputs[i].Count]
                    : Array.Empty<double>();
        }
        var mismatches = new List<Mismatch>();
        for (int i = 0; i < inputs.Length; i++)
        {
            var x = inputs[i];
            if (!x.RequiresGrad) continue;
            var values = x.ToArray();
            for (int j = 0; j < values.Length; j++)
            {
                float original = values[j];
                double plus = Evaluate(f, inputs, x, values, j, original + (float)eps, direction);
                double minus = Evaluate(f, inputs, x, values, j, original - (float)eps, direction);
                values[j] = original;
                x.Backend.CopyFromHost<float>(values, x.Dense);
                // The step actually taken in float32 may differ slightly from 2·eps.
                double step = (double)(original + (float)eps) - (double)(original - (float)eps);
                double numeric = (plus - minus) / step;
                double a = analytic[i][j];
                if (Math.Abs(a - numeric) > atol + rtol * Math.Abs(numeric))
                    mismatches.Add(new Mismatch(i, j, a, numeric));
            }
        }
        foreach (var x in inputs) x.ZeroGrad();
        return mismatches;
    }

    private static double Evaluate(Func<Tensor[], Tensor> f, Tensor[] inputs, Tensor x, float[] values, int j, float value,
        double[] direction)
    {
        values[j] = value;
        x.Backend.CopyFromHost<float>(values, x.Dense);
        using var scope = TensorScope.Begin();
        using var noGrad = GradMode.NoGrad();
        var y = f(inputs).ToArray();
        double sum = 0;
        for (int k = 0; k < y.Length; k++) sum += y[k] * direction[k];
        return sum;
    }
}
