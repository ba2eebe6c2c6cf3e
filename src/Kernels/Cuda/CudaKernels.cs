using System.Reflection;
using System.Text.RegularExpressions;

namespace Finetune.Kernels.Cuda;

/// <summary>The kernels of kernels.cu the backend launches, in the order of <see cref="CudaKernels.Table"/>.</summary>
internal enum KernelId
{
    Unary, UnaryBackward, Fill, Binary, Where, CopyB32, CopyB16, ReduceRows, ReduceChunks, ReduceCols, Softmax, SoftmaxBackward,
    LayerNorm, LayerNormBackwardDx, LayerNormBackwardDwDb, ValidateIndex, Gather, ScatterAdd, NllLoss, NllLossBackward,
    AdamW, RandomUniform, RandomNormal,
    LoraDown, LoraUp, LoraUpBackwardGu, LoraUpBackwardGb, LoraDownBackwardGx, LoraDownBackwardGa,
    LinearEpilogue, DropoutBackward,
    LoraDownQkv, LoraDownBackwardQkvGx,
    AttentionForward, AttentionBackwardDq, AttentionBackwardDkDv,
}

/// <summary>
/// Names and parameter counts of the kernels, and the checks that the PTX the backend loads really holds
/// them: a corrupt resource and a stale one (kernel missing or with another parameter count) fail with a
/// message that says to regenerate it, before the driver ever sees it.
/// </summary>
internal static partial class CudaKernels
{
    public const string ResourceName = "Finetune.Kernels.Cuda.kernels.ptx";

    public static readonly (string Name, int Params)[] Table =
    {
        ("unary_f32", 5), ("unary_backward_f32", 7), ("fill_f32", 3), ("binary_f32", 6), ("where_f32", 6),
        ("copy_b32", 4), ("copy_b16", 4), ("reduce_rows_f32", 5), ("reduce_chunks_f32", 5), ("reduce_cols_f32", 6), ("softmax_f32", 9),
        ("softmax_backward_f32", 7), ("layer_norm_f32", 9), ("layer_norm_backward_dx_f32", 8),
        ("layer_norm_backward_dwdb_f32", 8), ("validate_index_i32", 6), ("gather_f32", 5), ("scatter_add_f32", 5),
        ("nll_loss_f32", 7), ("nll_loss_backward_f32", 6), ("adamw_f32", 13), ("random_uniform_f32", 6), ("random_normal_f32", 6),
        ("lora_down_f32", 10), ("lora_up_f32", 7), ("lora_up_backward_gu_f32", 7), ("lora_up_backward_gb_f32", 7),
        ("lora_down_backward_gx_f32", 10), ("lora_down_backward_ga_f32", 10),
        ("linear_epilogue_f32", 11), ("dropout_backward_f32", 7),
        ("lora_down_qkv_f32", 24), ("lora_down_backward_qkv_gx_f32", 24),
        ("attention_forward_f32", 11), ("attention_backward_dq_f32", 14), ("attention_backward_dkdv_f32", 14),
    };

    public static string Name(KernelId id) => Table[(int)id].Name;

    /// <summary>The PTX embedded in this assembly.</summary>
    public static string EmbeddedPtx()
    {
        using var stream = typeof(CudaKernels).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidDataException($"the PTX resource {ResourceName} is missing from "
                + $"{typeof(CudaKernels).Assembly.GetName().Name}: rebuild the project (it embeds src/Kernels/Cuda/kernels.ptx)");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    [GeneratedRegex(@"\.entry\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(([^)]*)\)")]
    private static partial Regex EntryPattern();

    /// <summary>Every .entry of the PTX with its parameter count.</summary>
    public static Dictionary<string, int> Entries(string ptx)
    {
        var entries = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (Match m in EntryPattern().Matches(ptx))
            entries[m.Groups[1].Value] = Regex.Matches(m.Groups[2].Value, @"\.param\b").Count;
        return entries;
    }

    /// <summary>Throws <see cref="InvalidDataException"/> when <paramref name="ptx"/> is not PTX or lacks a kernel the backend
    /// launches.</summary>
    public static void Validate(string ptx, string source)
    {
        const string Fix = "regenerate it with tools/build-ptx.sh and rebuild";
        if (!ptx.Contains(".version", StringComparison.Ordinal) || !ptx.Contains(".target", StringComparison.Ordinal))
            throw new InvalidDataException($"{source} is corrupt: it has no .version/.target directive, so it is not PTX; {Fix}");
        var entries = Entries(ptx);
        foreach (var (name, count) in Table)
        {
            if (!entries.TryGetValue(name, out int found))
                throw new InvalidDataException($"{source} is stale: it has no kernel {name}, which this build launches; {Fix}");
            if (found != count)
                throw new InvalidDataException($"{source} is stale: kernel {name} takes {found} parameters there, this build "
                    + $"passes {count}; {Fix}");
        }
    }
}
