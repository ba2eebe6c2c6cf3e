using Finetune.Nn;

namespace Finetune.Peft.Lora;

/// <summary>Walks a model and swaps every targeted Linear child for a <see cref="LoraLinear"/> wrapping it.</summary>
public static class LoraInjector
{
    /// <summary>Records each swap in <paramref name="injection"/>; throws when nothing matches.</summary>
    public static void Inject(LoraConfig config, Injection injection)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(injection);
        config.Validate();
        var model = injection.Root;
        // Collect first: replacing children while walking would change the walk.
        var targets = injection.FindLinears(config.IsTarget);
        if (targets.Count == 0)
        {
            var linears = model.NamedModules().Where(m => m.Value is Linear).Select(m => m.Key).Take(8);
            throw new ArgumentException($"lora: no Linear matches target modules [{string.Join(", ", config.TargetModules)}]"
                + $"{(config.TargetRegex is null ? "" : $" or regex '{config.TargetRegex}'")}; "
                + $"Linear paths include: {string.Join(", ", linears)}");
        }
        // A rank above the layer's smaller side adds parameters without adding expressiveness (and r=100000 fills memory).
        foreach (var (path, linear) in targets)
            if (config.Rank > Math.Min(linear.InFeatures, linear.OutFeatures))
                throw new ArgumentException($"lora: rank {config.Rank} is larger than layer '{path}' allows ({linear.InFeatures} in, " +
                    $"{linear.OutFeatures} out); " +
                                            $"expected a rank of at most {Math.Min(linear.InFeatures, linear.OutFeatures)}");
        foreach (var (path, linear) in targets)
            injection.Replace(path, new LoraLinear(linear, config.Rank, config.Scale, config.Dropout, injection.Generator,
                config.UseDora) { Fused = config.Fused });
    }
}
