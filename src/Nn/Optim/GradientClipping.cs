namespace Finetune.Nn.Optim;

public static class GradientClipping
{
    /// <summary>Scales all gradients so their global L2 norm is at most <paramref name="maxNorm"/>; returns the norm before
    /// clipping.</summary>
    public static float ClipGlobalNorm(IEnumerable<NamedParameter> parameters, float maxNorm)
    {
        using var scope = TensorScope.Begin();
        return ClipGlobalNormOnDevice(parameters, maxNorm)?.Item() ?? 0f;
    }

    /// <summary>
    /// <see cref="ClipGlobalNorm"/> without leaving the gradients' device: the norm, the factor
    /// maxNorm / (norm + 1e-6) where norm &gt; maxNorm (1 otherwise, also for a NaN norm) and the scaling all run as
    /// kernels. Returns the norm as a scalar tensor in the caller's scope (null without gradients), to read with the loss.
    /// </summary>
    public static Tensor? ClipGlobalNormOnDevice(IEnumerable<NamedParameter> parameters, float maxNorm)
    {
        if (!(maxNorm > 0)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "clip: max norm must be > 0");
        var grads = parameters.Select(p => p.Tensor.Grad).OfType<Tensor>().ToList();
        if (grads.Count == 0) return null;
        using var noGrad = GradMode.NoGrad();
        Tensor norm;
        using (var inner = TensorScope.Begin())
        {
            Tensor? total = null;
            foreach (var g in grads)
            {
                var sq = (g * g).Sum();
                total = total is null ? sq : total + sq;
            }
            var device = total!.Device;
            norm = total.Sqrt();
            var limit = Tensor.Scalar(maxNorm, device);
            var factor = Tensor.Where(Tensor.Gt(norm, limit), limit / (norm + 1e-6f), Tensor.Scalar(1f, device));
            foreach (var g in grads) g.CopyFrom(g * factor);
            inner.Return(norm);
        }
        return norm;
    }
}
