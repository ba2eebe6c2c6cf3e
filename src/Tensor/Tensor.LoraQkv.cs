using Finetune.Kernels;

namespace Finetune;

public sealed partial class Tensor
{
    /// <summary>
    /// Three LoRA projections of one input in one op (unsloth's LoRA_QKV): query, key and value of self-attention. The base
    /// GEMMs write the three outputs side by side in one [3, …, out] buffer; one <see cref="ILoraKernels.LoraDownQkv"/> pass
    /// over x makes the three u = drop_p(x)·A_pᵀ; each projection draws its own dropout stream from its own generator in
    /// the order query, key, value — what three <see cref="LoraLinear"/> calls in that order draw — so the results equal
    /// them (to float rounding) and resume stays exact; each base GEMM carries its low-rank product
    /// (<see cref="ILoraKernels.LoraUpGemm"/>). Backward: the three dY·W_p GEMMs accumulate into one dX (each carrying its
    /// low-rank term without dropout), and one <see cref="ILoraKernels.LoraDownBackwardQkv"/> pass makes the three dA (and,
    /// with dropout, adds the masked low-rank terms). Returns the three outputs as views of the shared buffer.
    /// </summary>
    public static Tensor[] LoraQkv(Tensor x, LoraProjection query, LoraProjection key, LoraProjection value)
    {
        const string op = "lora_qkv";
        var projections = new[] { query, key, value };
        var checks = projections.Select(p => CheckLora(op, x, p)).ToArray();
        int inF = checks[0].In, outF = checks[0].Out;
        if (checks.Any(c => c.Out != outF))
            throw new ArgumentException($"{op}: query, key and value must have the same output features, got "
                + string.Join(", ", projections.Select(p => p.Weight.Describe())));
        var xc = x.Contiguous();
        int rows = Rows(x);
        var w = projections.Select(p => p.Weight.Contiguous()).ToArray();
        var a = projections.Select(p => p.LoraA.Contiguous()).ToArray();
        var b = projections.Select(p => p.LoraB.Contiguous()).ToArray();
        var y = Empty(new[] { 3 }.Concat(x._shape[..^1]).Append(outF).ToArray(), DType.Float32, x.Device);
        var parts = new LoraPart[3];
        var u = new Tensor[3];
        var bits = new Tensor?[3];
        var betas = new float[3];
        for (int p = 0; p < 3; p++)
        {
            using (var slice = Part(y, p)) betas[p] = BiasInto(xc, projections[p].Bias?.Contiguous(), slice, rows, outF);
            (var stream, bits[p]) = DrawDropout(x, rows, inF, projections[p].Dropout, projections[p].Generator);
            u[p] = Empty(new[] { rows, checks[p].Rank }, DType.Float32, x.Device);
            parts[p] = new LoraPart(a[p].Dense, checks[p].Rank, stream, u[p].Dense, null, bits[p]?.Dense);
        }
        var kernels = (ILoraKernels)x.Backend;
        if (rows > 0)
        {
            kernels.LoraDownQkv(xc.Dense, parts, rows, inF);
            for (int p = 0; p < 3; p++)
                using (var slice = Part(y, p))
                    kernels.LoraUpGemm(xc.Dense, w[p].Dense, u[p].Dense, b[p].Dense, slice.Dense, rows, inF, outF, checks[p].Rank,
                        projections[p].Scale, betas[p]);
        }
        var inputs = new List<Tensor> { x };
        foreach (var p in projections)
        {
            inputs.AddRange(new[] { p.Weight, p.LoraA, p.LoraB });
            if (p.Bias is not null) inputs.Add(p.Bias);
        }
        var inputShape = x._shape;
        var saved = new List<Tensor> { xc };
        saved.AddRange(w.Concat(a).Concat(b).Concat(u));
        saved.AddRange(bits.OfType<Tensor>());
        var gradients = new SharedGradient(3);
        var output = Finish(y, op, inputs.ToArray(), dy =>
        {
            var gy = gradients.Take(dy);
            var back = (ILoraKernels)gy.Backend;
            var grads = new List<Tensor?>();
            Tensor? gx = x.RequiresGrad ? Empty((int[])inputShape.Clone(), DType.Float32, gy.Device) : null;
            if (gx is not null && rows == 0) gx.Backend.Fill(gx.Dense, gx.Count, 0f);
            // Without dropout each dY_p·W_p GEMM carries its low-rank term; with it the terms need the masks (the gA pass adds them).
            bool masked = parts.Any(p => p.Dropout.Active);
            Tensor? gxTerm = null;
            var gus = new Tensor[3];
            var backParts = new LoraPart[3];
            var perProjection = new List<Tensor?>[3];
            for (int p = 0; p < 3; p++)
            {
                var proj = projections[p];
                using var g = Part(gy, p);
                var (gu, gb) = LoraUpGradients(g.Dense, u[p], b[p], proj.LoraB, rows, outF, checks[p].Rank, proj.Scale);
                gus[p] = gu;
                var ga = proj.LoraA.RequiresGrad ? Empty(new[] { checks[p].Rank, inF }, DType.Float32, gy.Device) : null;
                if (rows == 0) ga?.Backend.Fill(ga.Dense, ga.Count, 0f);
                backParts[p] = parts[p] with { U = gu.Dense, GradA = ga?.Dense };
                // dX = Σ_p dY_p·W_p (+ gu_p·A_p): the second and third GEMMs accumulate onto the first (no [rows, in] adds).
                gxTerm = InputGrad(g.Dense, w[p], gu, a[p], gx, rows, inF, outF, checks[p].Rank, p == 0 ? 0f : 1f, masked);
                perProjection[p] = new List<Tensor?> { BaseWeightGrad(proj.Weight, g, xc), ga, gb };
                if (proj.Bias is not null) perProjection[p].Add(BiasGrad(proj.Bias, g));
            }
            if (rows > 0 && (gxTerm is not null || backParts.Any(p => p.GradA is not null)))
                back.LoraDownBackwardQkv(xc.Dense, backParts, gxTerm?.Dense, rows, inF);
            foreach (var gu in gus) gu.Dispose();
            grads.Add(gx);
            foreach (var list in perProjection) grads.AddRange(list);
            return grads.ToArray();
        }, saved.ToArray());
        return Enumerable.Range(0, 3).Select(p => gradients.View(output, p)).ToArray();
    }

    /// <summary>Part p of a [3, …] tensor as a contiguous view (outside autograd).</summary>
    private static Tensor Part(Tensor t, int p)
    {
        long size = t.Count / t._shape[0];
        var shape = t._shape[1..];
        return t.ViewOf(shape, Layout.ContiguousStrides(shape), t._offset + p * size);
    }

    /// <summary>
    /// The gradient of a [parts, …] output whose parts are used as separate tensors: each part's backward copies its
    /// gradient into one shared buffer (the first to run hands that buffer to the output's node, the others add nothing), so
    /// the fused backward gets one contiguous gradient without the zero-padded sums a narrow's backward would make. Parts
    /// that got no gradient are zeroed when the node takes the buffer.
    /// </summary>
    private sealed class SharedGradient(int parts)
    {
        private Tensor? _buffer;
        private readonly bool[] _written = new bool[parts];

        public Tensor View(Tensor output, int p)
        {
            var view = Part(output, p);
            return Finish(view, "lora_qkv_part", new[] { output }, g =>
            {
                bool first = _buffer is null;
                _buffer ??= Empty((int[])output._shape.Clone(), DType.Float32, g.Device);
                using (var slice = Part(_buffer, p)) slice.CopyFrom(g);
                _written[p] = true;
                return new[] { first ? _buffer : null };
            });
        }

        /// <summary>The assembled gradient (<paramref name="dy"/> is the buffer itself), with parts nobody wrote zeroed.</summary>
        public Tensor Take(Tensor dy)
        {
            for (int p = 0; p < parts; p++)
            {
                if (!_written[p])
                    using (var slice = Part(dy, p)) slice.Backend.Fill(slice.Dense, slice.Count, 0f);
                _written[p] = false;
            }
            _buffer = null;
            return dy;
        }
    }
}
