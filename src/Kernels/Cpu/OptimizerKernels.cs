using System.Runtime.Intrinsics;

namespace Finetune.Kernels.Cpu;

internal static unsafe class OptimizerKernels
{
    public static void AdamW(float* p, float* g, float* m, float* v, long n, AdamWStep s)
    {
        nint pp = (nint)p, pg = (nint)g, pm = (nint)m, pv = (nint)v;
        float b1 = s.Beta1, b2 = s.Beta2, c1 = 1f - s.Beta1, c2 = 1f - s.Beta2;
        float stepSize = s.LearningRate / s.Bias1, invSqrtBias2 = 1f / MathF.Sqrt(s.Bias2), decay = 1f - s.LearningRate * s.WeightDecay;
        CpuParallel.For(n, 1 << 14, (start, end) =>
        {
            float* P = (float*)pp, G = (float*)pg, M = (float*)pm, V = (float*)pv;
            long i = start;
            if (Vector256.IsHardwareAccelerated)
            {
                var vb1 = Vector256.Create(b1); var vb2 = Vector256.Create(b2);
                var vc1 = Vector256.Create(c1); var vc2 = Vector256.Create(c2);
                var vstep = Vector256.Create(stepSize); var vinv = Vector256.Create(invSqrtBias2);
                var veps = Vector256.Create(s.Eps); var vdecay = Vector256.Create(decay);
                for (; i + 8 <= end; i += 8)
                {
                    var gi = Vector256.Load(G + i);
                    var mi = vb1 * Vector256.Load(M + i) + vc1 * gi;
                    var vi = vb2 * Vector256.Load(V + i) + vc2 * gi * gi;
                    Vector256.Store(mi, M + i);
                    Vector256.Store(vi, V + i);
                    var denom = Vector256.Sqrt(vi) * vinv + veps;
                    Vector256.Store(Vector256.Load(P + i) * vdecay - vstep * mi / denom, P + i);
                }
            }
            for (; i < end; i++)
            {
                float gi = G[i];
                float mi = b1 * M[i] + c1 * gi;
                float vi = b2 * V[i] + c2 * gi * gi;
                M[i] = mi;
                V[i] = vi;
                P[i] = P[i] * decay - stepSize * mi / (MathF.Sqrt(vi) * invSqrtBias2 + s.Eps);
            }
        });
    }
}
