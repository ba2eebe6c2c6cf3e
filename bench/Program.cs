using BenchmarkDotNet.Running;
using Finetune.Bench;

// dotnet run -c Release --project bench -- gemm [--threads N] [--quick] ...   side-by-side table with the PyTorch peer
// dotnet run -c Release --project bench -- bdn --filter '*Gemm*'              BenchmarkDotNet suites
// A bad option value (a number that is not one, a name the table does not know, an index past the end) is one line and
// exit code 2, not a stack trace.
try
{
    if (Dispatch(args) is int code) return code;
}
catch (Exception e) when (e is ArgumentException or FormatException or OverflowException or IndexOutOfRangeException)
{
    // IndexOutOfRange is an option given last without its value (args[++i]).
    Console.Error.WriteLine(e is IndexOutOfRangeException ? "bench: an option is missing its value" : $"bench: {e.Message}");
    return 2;
}
Console.Error.WriteLine("usage: Finetune.Bench gemm [--threads N] [--quick] [--no-peer] [--kernel avx512|avx2|portable] [--kc N] [--mc N] [--nc N] [--small] [--path small|packed] [--only NAME]");
Console.Error.WriteLine("       Finetune.Bench step [--batch 8] [--seq 128] [--reps 5] [--threads 2] [--rounds 2] "
    + "[--profile forward|lora|full [--unfused]] [--epilogues] [--device cpu|cuda|cuda:N|host]   "
    + "MiniLM training step vs PyTorch, forward vs ONNX Runtime");
Console.Error.WriteLine("       Finetune.Bench fuzz [--mutants 1000000] [--seed 1] [--only safetensors]   every file reader under mutated inputs");
Console.Error.WriteLine("       Finetune.Bench lora [--quick] [--only layer|step] [--reps 3] [--rounds 2] [--threads 2] [--no-peer]   fused vs unfused LoRA vs PyTorch");
Console.Error.WriteLine("       Finetune.Bench epilogue [--threads 1] [--tokens 1024] [--reps 7] [--rounds 3]   "
    + "fused GEMM epilogues vs composed ops, CPU time");
Console.Error.WriteLine("       Finetune.Bench philox [--reps 50]   dropout uniforms per second: scalar, AVX2 and AVX-512 Philox");
Console.Error.WriteLine("       Finetune.Bench lora --kernels [--quick]   each CPU LoRA kernel beside the base GEMMs (1 thread, CPU time)");
Console.Error.WriteLine("       Finetune.Bench lora --kernels --versions [--quick]   LoRA kernel v3 vs v4 where they differ, interleaved");
Console.Error.WriteLine("       Finetune.Bench profile-overhead [--reps 9] [--method lora] [--device cpu]   "
    + "a training step with and without the profiler");
Console.Error.WriteLine("       Finetune.Bench attention [--batch 8] [--seq 128,512] [--reps 3] [--rounds 2] [--threads 2]   fused vs composed attention in MiniLM: step, forward, peak memory");
Console.Error.WriteLine("       Finetune.Bench bdn [BenchmarkDotNet arguments, e.g. --filter '*Gemm*']");
return 2;

static int? Dispatch(string[] args) => args.Length == 0 ? null : args[0] switch
{
    "gemm" => GemmTable.Run(args[1..]),
    "step" => StepTable.Run(args[1..]),
    "fuzz" => FuzzRun.Run(args[1..]),
    "epilogue" => EpilogueTable.Run(args[1..]),
    "philox" => PhiloxTable.Run(args[1..]),
    "lora" => LoraTable.Run(args[1..]),
    "profile-overhead" => ProfileOverhead.Run(args[1..]),
    "attention" => AttentionTable.Run(args[1..]),
    "bdn" => RunBenchmarkDotNet(args[1..]),
    _ => null,
};

static int RunBenchmarkDotNet(string[] args)
{
    BenchmarkSwitcher.FromAssembly(typeof(GemmTable).Assembly).Run(args);
    return 0;
}
