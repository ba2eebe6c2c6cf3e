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
        foreach (var (path, linear) in targets)
            injection.Replace(path, new LoraLinear(linear, config.Rank, config.Scale, config.Dropout, injection.Generator, config.UseDora));
    }
}
