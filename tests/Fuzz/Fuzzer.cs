using System.Diagnostics;

namespace Finetune.Tests.Fuzz;

/// <summary>Runs mutants of a target's seeds through its reader, deterministically from a seed.</summary>
public static class Fuzzer
{
    public static FuzzResult Run(FuzzTarget target, int mutants, int seed = 1, int keepFailures = 20)
    {
        var rng = new Random(seed);
        var failures = new List<FuzzFailure>();
        int accepted = 0, rejected = 0;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < mutants; i++)
        {
            var parent = target.Seeds[rng.Next(target.Seeds.Count)];
            var input = target.Mutate is { } m ? m(parent, rng) : Mutator.Mutate(parent, rng);
            var failure = Check(target, input, i);
            if (failure is null) accepted++;
            else if (failure.Exception.Length == 0) rejected++;
            else if (failures.Count < keepFailures) failures.Add(failure);
            else rejected += 0;
        }
        return new FuzzResult(target.Name, mutants, accepted, rejected, clock.Elapsed, failures);
    }

    /// <summary>
    /// Null when the reader accepted the input; a failure with an empty exception name when it rejected it the documented
    /// way (its documented exception naming the file on one line); otherwise the failure.
    /// </summary>
    public static FuzzFailure? Check(FuzzTarget target, byte[] input, int index = 0)
    {
        try
        {
            target.Read(input);
            return null;
        }
        catch (Exception e) when (target.Documented.IsInstanceOfType(e) && e.Message.StartsWith(target.Source, StringComparison.Ordinal)
            && !e.Message.Contains('\n'))
        {
            return new FuzzFailure(index, "", e.Message, input);
        }
        catch (Exception e)
        {
            return new FuzzFailure(index, e.GetType().FullName!, e.Message, input);
        }
    }
}
