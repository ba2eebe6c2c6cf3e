namespace Finetune.Kernels;

/// <summary>Elementwise functions of one input. <c>arg</c> is the scalar the op takes, if any.</summary>
public enum UnaryOp
{
    Neg,
    Exp,
    Log,
    Sqrt,
    Rsqrt,
    Tanh,
    Relu,
    Sigmoid,
    /// <summary>x·Φ(x) with the exact normal CDF (erf form).</summary>
    GeluErf,
    /// <summary>The tanh approximation of GELU used by GPT-2 and "gelu_new".</summary>
    GeluTanh,
    /// <summary>arg·x.</summary>
    Scale,
    /// <summary>x^arg.</summary>
    Pow,
    /// <summary>x + arg.</summary>
    AddScalar,
    /// <summary>Dropout keep-mask from uniforms in [0,1): 1/(1-arg) where u ≥ arg, else 0.</summary>
    DropoutMask,
    Abs,
}
