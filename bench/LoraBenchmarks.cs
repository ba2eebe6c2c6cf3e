using BenchmarkDotNet.Attributes;
using Finetune.Nn;
using Finetune.Peft.Lora;

namespace Finetune.Bench;

/// <summary>
/// BenchmarkDotNet view of one LoRA Linear's forward + backward, fused (kernel version 2) against composed (version 1),
/// over the grid of `bench lora` (hidden sizes of MiniLM, BERT-base and BERT-large; dropout 0.1; x requiring grad).
/// </summary>
[MemoryDiagnoser]
public class LoraBenchmarks
{
    private LoraLinear _layer = null!;
    private Tensor _x = null!, _dy = null!;

    [Params(384, 768, 1024)]
    public int Hidden { get; set; }

    [Params(1024, 4096, 8192)]
    public int Tokens { get; set; }

    [Params(8, 16, 64)]
    public int Rank { get; set; }

    [Params(true, false)]
    public bool Fused { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var g = new Generator(1);
        _layer = new LoraLinear(new Linear(Hidden, Hidden, true, g), Rank, 16f / Rank, 0.1f, new Generator(2)) { Fused = Fused };
        using (var b = Tensor.Normal(new[] { Hidden, Rank }, 0f, 0.02f, g)) _layer.LoraB.Weight.CopyFrom(b);
        _x = Tensor.Normal(new[] { Tokens, Hidden }, 0f, 1f, g);
        _x.RequiresGrad = true;
        _dy = Tensor.Normal(new[] { Tokens, Hidden }, 0f, 1f, g);
    }

    [Benchmark]
    public void ForwardBackward()
    {
        using var scope = TensorScope.Begin();
        _layer.Forward(_x).Backward(_dy);
        _x.ZeroGrad();
        _layer.ZeroGrad();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _layer.Dispose();
        _x.Dispose();
        _dy.Dispose();
    }
}
