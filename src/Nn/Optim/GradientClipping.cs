namespace Finetune.Nn.Optim;

public static class GradientClipping
{
    /// <summary>Scales all gradients so their global L2 norm is at most <paramref name="maxNorm"/>; returns the norm before
    /// clipping.</summary>
    public static float ClipGlobalNorm(IEnumerable<NamedParameter> parameters, float maxNorm)
    {
        if (!(maxNorm > 0)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "clip: max norm must be > 0");
        var grads = parameters.Select(p => p.Tensor.Grad).OfType<Tensor>().ToList();
        if (grads.Count == 0) return 0f;
        using var scope = TensorScope.Begin();
        using var noGrad = GradMode.NoGrad();
        Tensor? total = null;
        foreach (var g in grads)
        {
            var sq = (g * g).Sum();
            total = total is null ? sq : total + sq;
        }
        float norm = MathF.Sqrt(total!.Item());
        if (float.IsFinite(norm) && norm > maxNorm)
        {
            float factor = maxNorm / (norm + 1e-6f);
            foreach (var g in grads) g.CopyFrom(g * factor);
        }
        return norm;
    }
}
