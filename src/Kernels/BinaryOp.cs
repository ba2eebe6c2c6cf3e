namespace Finetune.Kernels;

/// <summary>Elementwise functions of two inputs (broadcast through strides).</summary>
public enum BinaryOp
{
    Add,
    Sub,
    Mul,
    Div,
    /// <summary>1 where a == b, else 0.</summary>
    Eq,
    /// <summary>1 where a &gt; b, else 0.</summary>
    Gt,
}
