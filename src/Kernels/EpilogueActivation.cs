namespace Finetune.Kernels;

/// <summary>The activation a GEMM epilogue applies after the bias (<see cref="IEpilogueKernels"/>).</summary>
public enum EpilogueActivation
{
    None,
    /// <summary>x·Φ(x) with the exact normal CDF, as <see cref="UnaryOp.GeluErf"/>.</summary>
    GeluErf,
}
