using Finetune.Kernels;

namespace Finetune.Nn;

/// <summary>How a sequence of hidden states becomes one vector.</summary>
public enum PoolingMode
{
    /// <summary>BERT's pooler: tanh(dense(first token)).</summary>
    Pooler,

    /// <summary>Average over real tokens (attention mask 1), as sentence-transformers does.</summary>
    Mean,
}
