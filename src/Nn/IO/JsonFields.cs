using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Finetune.Nn.IO;

/// <summary>
/// The one validating reader of the project's JSON files (config.json, adapter_config.json, finetune_run.json,
/// trainer_state.json, safetensors headers). Parsing rejects invalid UTF-8, duplicate keys and nesting deeper than
/// <see cref="MaxDepth"/>; each getter checks type and range. Every error is an <see cref="InvalidDataException"/>
/// naming the file, the field, the value found and what was expected.
/// </summary>
public sealed class JsonFields
{
    /// <summary>Deeper nesting than any of our files uses; a hostile file cannot exhaust the stack.</summary>
    public const int MaxDepth = 32;

    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = MaxDepth };

    private JsonFields(JsonObject obj, string source, string prefix)
    {
        Object = obj;
        Source = source;
        Prefix = prefix;
    }

    /// <summary>The parsed object (read-only use).</summary>
    public JsonObject Object { get; }

    /// <summary>The file (or other origin) errors name.</summary>
    public string Source { get; }

    /// <summary>The dotted path of this object inside the file ("" at the top).</summary>
    public string Prefix { get; }

    public static JsonFields ReadFile(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (FileNotFoundException e)
        {
            throw new FileNotFoundException($"{path}: file not found", path, e);
        }
        return Parse(bytes, path);
    }

    public static JsonFields Parse(string json, string source) => Parse(Encoding.UTF8.GetBytes(json), source);

    /// <summary>Parses UTF-8 JSON whose top level must be an object.</summary>
    public static JsonFields Parse(ReadOnlySpan<byte> utf8, string source)
    {
        if (!System.Text.Unicode.Utf8.IsValid(utf8))
        {
            var status = System.Text.Unicode.Utf8.ToUtf16(utf8, new char[utf8.Length], out int valid, out _,
                replaceInvalidSequences: false);
            throw new InvalidDataException($"{source}: byte {valid} is not valid UTF-8 ({status}); expected UTF-8 JSON text");
        }
        JsonNode? root;
        try
        {
            using (var doc = JsonDocument.Parse(utf8.ToArray(), DocumentOptions)) CheckDuplicates(doc.RootElement, "", source);
            root = JsonNode.Parse(utf8, documentOptions: DocumentOptions);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: not valid JSON: {ErrorText.OneLine(e)}", e);
        }
        catch (InvalidOperationException e)
        {
            // A string escape that is not text, such as a lone UTF-16 surrogate "\ud800".
            throw new InvalidDataException($"{source}: a string in the file is not valid text ({ErrorText.OneLine(e)})", e);
        }
        if (root is not JsonObject o)
            throw new InvalidDataException($"{source}: the top level is {Kind(root)}, expected a JSON object");
        return new JsonFields(o, source, "");
    }

    private static void CheckDuplicates(JsonElement e, string path, string source)
    {
        if (e.ValueKind == JsonValueKind.Object)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var p in e.EnumerateObject())
            {
                string child = path.Length == 0 ? p.Name : path + "." + p.Name;
                if (!seen.Add(p.Name))
                    throw new InvalidDataException($"{source}: field '{Printable(child)}' appears twice; expected each key once");
                CheckDuplicates(p.Value, child, source);
            }
        }
        else if (e.ValueKind == JsonValueKind.Array)
        {
            int i = 0;
            foreach (var item in e.EnumerateArray()) CheckDuplicates(item, $"{path}[{i++}]", source);
        }
        else if (e.ValueKind == JsonValueKind.String)
            _ = e.GetString();
    }

    public bool Has(string key) => Object[key] is not null;

    /// <summary>Throws when the object holds a key outside <paramref name="known"/> (a misspelt field is not silently ignored).</summary>
    public void RejectUnknown(params string[] known)
    {
        foreach (var (key, _) in Object)
            if (Array.IndexOf(known, key) < 0)
                throw Error(key, Object[key], $"one of the known fields ({string.Join(", ", known)}); this field is unknown");
    }

    public int Int(string key, int min, int max, int? fallback = null) => checked((int)Long(key, min, max, fallback));

    public long Long(string key, long min, long max, long? fallback = null)
    {
        var n = Value(key, fallback.HasValue);
        if (n is null) return fallback!.Value;
        if (n is not JsonValue v || v.GetValueKind() != JsonValueKind.Number || !v.TryGetValue<long>(out long x))
            throw Error(key, n, $"an integer in [{min}, {max}]");
        if (x < min || x > max) throw Error(key, n, $"an integer in [{min}, {max}]");
        return x;
    }

    public ulong ULong(string key, ulong? fallback = null)
    {
        var n = Value(key, fallback.HasValue);
        if (n is null) return fallback!.Value;
        if (n is not JsonValue v || v.GetValueKind() != JsonValueKind.Number || !v.TryGetValue<ulong>(out ulong x))
            throw Error(key, n, $"an integer in [0, {ulong.MaxValue}]");
        return x;
    }

    /// <summary>A finite number in [min, max] (NaN and infinities are never accepted).</summary>
    public float Float(string key, float min, float max, float? fallback = null, bool minExclusive = false)
    {
        var n = Value(key, fallback.HasValue);
        if (n is null) return fallback!.Value;
        string range = $"a number in {(minExclusive ? "(" : "[")}{Format(min)}, {Format(max)}]";
        if (n is not JsonValue v || v.GetValueKind() != JsonValueKind.Number || !v.TryGetValue<double>(out double d))
            throw Error(key, n, range);
        float x = (float)d;
        if (!float.IsFinite(x) || x < min || x > max || (minExclusive && x == min)) throw Error(key, n, range);
        return x;
    }

    public bool Bool(string key, bool? fallback = null)
    {
        var n = Value(key, fallback.HasValue);
        if (n is null) return fallback!.Value;
        return n.GetValueKind() switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Error(key, n, "true or false"),
        };
    }

    /// <summary>A string; with <paramref name="optional"/>, a missing key or null gives null.</summary>
    public string? String(string key, bool optional = false, string? fallback = null)
    {
        var n = Value(key, optional || fallback is not null);
        if (n is null) return fallback;
        if (n.GetValueKind() != JsonValueKind.String) throw Error(key, n, "a string");
        return n.GetValue<string>();
    }

    /// <summary>A string that must be one of <paramref name="allowed"/>.</summary>
    public string Choice(string key, string? fallback, params string[] allowed)
    {
        var s = String(key, fallback is not null, fallback)!;
        if (Array.IndexOf(allowed, s) < 0) throw Error(key, Object[key], $"one of {string.Join(", ", allowed)}");
        return s;
    }

    /// <summary>An enum member by name (case-insensitive) or by its defined number; an undefined number is refused.</summary>
    public T Enum<T>(string key, T? fallback = null) where T : struct, System.Enum
    {
        var n = Value(key, fallback.HasValue);
        if (n is null) return fallback!.Value;
        string expected = $"one of {string.Join(", ", System.Enum.GetNames<T>())}";
        if (n.GetValueKind() == JsonValueKind.String && System.Enum.TryParse<T>(n.GetValue<string>(), ignoreCase: true, out var named)
            && System.Enum.IsDefined(named) && !char.IsDigit(n.GetValue<string>().TrimStart('-').FirstOrDefault()))
            return named;
        if (n is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<int>(out int i))
        {
            var value = (T)System.Enum.ToObject(typeof(T), i);
            if (System.Enum.IsDefined(value)) return value;
        }
        throw Error(key, n, expected);
    }

    /// <summary>An array of strings without nulls, each at most <paramref name="maxLength"/> characters.</summary>
    public string[] Strings(string key, IReadOnlyList<string>? fallback = null, int maxLength = 4096)
    {
        var n = Value(key, fallback is not null);
        if (n is null) return fallback!.ToArray();
        if (n is not JsonArray a) throw Error(key, n, "an array of strings");
        var result = new string[a.Count];
        for (int i = 0; i < a.Count; i++)
        {
            if (a[i]?.GetValueKind() != JsonValueKind.String) throw Error($"{key}[{i}]", a[i], "a string");
            result[i] = a[i]!.GetValue<string>();
            if (result[i].Length > maxLength) throw Error($"{key}[{i}]", a[i], $"a string of at most {maxLength} characters");
        }
        return result;
    }

    public int[] Ints(string key, int min, int max, IReadOnlyList<int>? fallback = null)
    {
        var n = Value(key, fallback is not null);
        if (n is null) return fallback!.ToArray();
        if (n is not JsonArray a) throw Error(key, n, "an array of integers");
        var result = new int[a.Count];
        for (int i = 0; i < a.Count; i++)
        {
            if (a[i] is not JsonValue v || v.GetValueKind() != JsonValueKind.Number || !v.TryGetValue<int>(out result[i])
                || result[i] < min || result[i] > max)
                throw Error($"{key}[{i}]", a[i], $"an integer in [{min}, {max}]");
        }
        return result;
    }

    /// <summary>A nested object (null when optional and missing or null).</summary>
    public JsonFields? Child(string key, bool optional = false)
    {
        var n = Value(key, optional);
        if (n is null) return null;
        if (n is not JsonObject o) throw Error(key, n, "a JSON object");
        return new JsonFields(o, Source, Path(key));
    }

    /// <summary>An array of objects, each read as its own <see cref="JsonFields"/>.</summary>
    public List<JsonFields> Children(string key, bool optional = false)
    {
        var n = Value(key, optional);
        if (n is null) return new List<JsonFields>();
        if (n is not JsonArray a) throw Error(key, n, "an array of JSON objects");
        var result = new List<JsonFields>(a.Count);
        for (int i = 0; i < a.Count; i++)
        {
            if (a[i] is not JsonObject o) throw Error($"{key}[{i}]", a[i], "a JSON object");
            result.Add(new JsonFields(o, Source, Path($"{key}[{i}]")));
        }
        return result;
    }

    /// <summary>An error naming the file, the field and its value: "file: field 'x' is V, expected E".</summary>
    public InvalidDataException Error(string key, JsonNode? value, string expected) =>
        new($"{Source}: field '{Printable(Path(key))}' is {Show(value)}, expected {expected}");

    private JsonNode? Value(string key, bool optional)
    {
        var n = Object[key];
        if (n is null && !optional)
            throw new InvalidDataException($"{Source}: field '{Printable(Path(key))}' is {(Object.ContainsKey(key) ? "null"
                : "missing")}, expected a value");
        return n;
    }

    private string Path(string key) => Prefix.Length == 0 ? key : Prefix + "." + key;

    /// <summary>A key or tensor name with control characters escaped, so an error stays one line.</summary>
    public static string Printable(string name)
    {
        if (!name.Any(char.IsControl)) return name;
        var b = new StringBuilder(name.Length + 8);
        foreach (char c in name) b.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c);
        return b.ToString();
    }

    /// <summary>A value as it appears in the file, cut to 80 characters.</summary>
    public static string Show(JsonNode? value)
    {
        var s = value?.ToJsonString() ?? "null";
        return s.Length <= 80 ? s : s[..77] + "...";
    }

    private static string Kind(JsonNode? n) => n is null ? "null" : n.GetValueKind() switch
    {
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        _ => n.ToJsonString(),
    };

    private static string Format(float x) => x.ToString("G6", CultureInfo.InvariantCulture);
}
