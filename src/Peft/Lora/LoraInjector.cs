using Finetune.Nn;

namespace Finetune.Peft.Lora;

/// <summary>Walks a model and swaps every targeted Linear child for a <see cref="LoraLinear"/> wrapping it.</summary>
public static class LoraInjector
{
    /// <summary>Returns the dotted paths that were adapted; throws when nothing matches.</summary>
    public static IReadOnlyList<string> Inject(Module model, LoraConfig config)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        var generator = new Generator(config.Seed);
        // Collect first: replacing children while walking would change the walk.
        var targets = new List<(Module Parent, string Name, string Path, Linear Linear)>();
        foreach (var (path, parent) in model.NamedModules())
        {
            if (parent is LoraLinear) continue;
            foreach (var (name, child) in parent.NamedChildren())
            {
                string childPath = path.Length == 0 ? name : path + "." + name;
                if (child is Linear linear && config.IsTarget(childPath)) targets.Add((parent, name, childPath, linear));
            }
        }
        if (targets.Count == 0)
        {
            var linears = model.NamedModules().Where(m => m.Value is Linear).Select(m => m.Key).Take(8);
            throw new ArgumentException($"lora: no Linear matches target modules [{string.Join(", ", config.TargetModules)}]{(config.TargetRegex is null ? "" : $" or regex '{config.TargetRegex}'")}; Linear paths include: {string.Join(", ", linears)}");
        }
        foreach (var (parent, name, _, linear) in targets)
            parent.ReplaceChild(name, new LoraLinear(linear, config.Rank, config.Scale, config.Dropout, generator));
        return targets.Select(t => t.Path).ToArray();
    }
}
