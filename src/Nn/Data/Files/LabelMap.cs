using System.Globalization;
using System.Text.Json.Nodes;

namespace Finetune.Nn.Data;

/// <summary>
/// Class names and their ids (Hugging Face's id2label / label2id). Built from the training labels: when every label is
/// an integer they are ordered numerically (so 0…K−1 keep their ids), otherwise by ordinal string order.
/// </summary>
public sealed class LabelMap
{
    private readonly Dictionary<string, int> _ids;

    public LabelMap(IReadOnlyList<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        if (names.Count < 2) throw new ArgumentException(
            $"labels: a classifier needs at least 2 classes, got {names.Count} ({Join(names)})");
        _ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < names.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(names[i])) throw new ArgumentException($"labels: class {i} has an empty name");
            if (!_ids.TryAdd(names[i], i)) throw new ArgumentException($"labels: the class '{names[i]}' appears twice");
        }
        Names = names.ToArray();
    }

    /// <summary>The class name of each id (id2label).</summary>
    public IReadOnlyList<string> Names { get; }

    public int Count => Names.Count;

    /// <summary>The classes that <paramref name="labels"/> hold, in the documented order.</summary>
    public static LabelMap FromLabels(IEnumerable<string> labels)
    {
        var distinct = labels.Distinct(StringComparer.Ordinal).ToList();
        var ordered = distinct.All(l => long.TryParse(l, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
            ? distinct.OrderBy(l => long.Parse(l, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture)).ToList()
            : distinct.OrderBy(l => l, StringComparer.Ordinal).ToList();
        return new LabelMap(ordered);
    }

    /// <summary>The id of <paramref name="label"/>, if it is a known class.</summary>
    public bool TryGetId(string label, out int id) => _ids.TryGetValue(label, out id);

    /// <summary>id2label as Hugging Face writes it in config.json: ids as strings.</summary>
    public Dictionary<string, string> Id2Label() =>
        Names.Select((n, i) => (n, i)).ToDictionary(p => p.i.ToString(CultureInfo.InvariantCulture), p => p.n);

    public Dictionary<string, int> Label2Id() => Names.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i);

    /// <summary>Reads an id2label map; the ids must be exactly 0…K−1.</summary>
    public static LabelMap FromId2Label(IReadOnlyDictionary<string, string> id2label, string source)
    {
        ArgumentNullException.ThrowIfNull(id2label);
        var names = new string[id2label.Count];
        foreach (var (key, name) in id2label)
        {
            if (!int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out int id) || id >= names.Length
                || names[id] is not null)
                throw new InvalidDataException($"{source}: id2label key '{key}' is not one of the ids 0…{names.Length - 1} (each once)");
            names[id] = name;
        }
        try
        {
            return new LabelMap(names);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{source}: id2label: {e.Message}", e);
        }
    }

    /// <summary>Sets <c>id2label</c> and <c>label2id</c> in a Hugging Face config.json object (what an exported classifier
    /// carries).</summary>
    public void WriteTo(JsonObject config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var id2label = new JsonObject();
        var label2id = new JsonObject();
        for (int i = 0; i < Names.Count; i++)
        {
            id2label[i.ToString(CultureInfo.InvariantCulture)] = Names[i];
            label2id[Names[i]] = i;
        }
        config["id2label"] = id2label;
        config["label2id"] = label2id;
    }

    /// <summary>The classes of a config.json's <c>id2label</c>, or null when it has none.</summary>
    public static LabelMap? ReadFrom(JsonObject config, string source)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config["id2label"] is not JsonObject o) return null;
        var map = new Dictionary<string, string>();
        foreach (var (key, value) in o)
            map[key] = value is JsonValue v && v.TryGetValue<string>(out var name)
                ? name
                : throw new InvalidDataException($"{source}: id2label['{key}'] is {value?.ToJsonString() ?? "null"}, not a class name");
        return FromId2Label(map, source);
    }

    public override string ToString() => Join(Names);

    private static string Join(IEnumerable<string> names) => string.Join(", ", names.Select(n => $"'{n}'"));
}
