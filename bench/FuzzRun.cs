using Finetune.Tests.Fuzz;

namespace Finetune.Bench;

/// <summary><c>bench fuzz [--mutants 1000000] [--seed 1] [--only NAME]</c>: every reader under many mutants, one table.</summary>
public static class FuzzRun
{
    public static int Run(string[] args)
    {
        int mutants = 1_000_000, seed = 1;
        string? only = null;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--mutants": mutants = int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--seed": seed = int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--only": only = args[i + 1]; break;
                default: Console.Error.WriteLine($"fuzz: unknown option {args[i]}"); return 2;
            }
        }
        Console.WriteLine($"| reader | mutants | accepted | rejected (InvalidDataException naming the file) | other exceptions | seconds |");
        Console.WriteLine("|---|---|---|---|---|---|");
        int bad = 0;
        foreach (var target in FuzzTargets.All.Where(t => only is null || t.Name == only))
        {
            var r = Fuzzer.Run(target, mutants, seed);
            Console.WriteLine($"| {r.Target} | {r.Mutants:N0} | {r.Accepted:N0} | {r.Rejected:N0} | {r.Failures.Count} | {r.Elapsed.TotalSeconds:F0} |");
            foreach (var f in r.Failures.Take(3))
                Console.WriteLine($"  #{f.Index} {f.Exception}: {f.Message} (base64 {Convert.ToBase64String(f.Input)})");
            bad += r.Failures.Count;
        }
        return bad == 0 ? 0 : 1;
    }
}
