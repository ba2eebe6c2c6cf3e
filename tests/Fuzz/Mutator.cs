using System.Text;

namespace Finetune.Tests.Fuzz;

/// <summary>
/// A small, deterministic mutator: byte flips and splices (what AFL does first) plus JSON-aware replacements with the
/// values that break readers — boundaries of int32/int64, overflowing products, NaN, nulls, wrong types, duplicate keys,
/// invalid UTF-8.
/// </summary>
public static class Mutator
{
    private static readonly string[] Literals =
    {
        "0", "-1", "-5", "1", "99", "7", "1000000", "2147483647", "2147483648", "-2147483649", "9223372036854775807", "18446744073709551616",
        "1e400", "-1e400", "NaN", "1e8", "2e9", "1.5", "-0", "0.0", "null", "true", "false", "\"\"", "\"x\"", "[]", "{}", "[null]", "[\"query\", null]",
        "[2147483647,2147483647,2147483647]", "[1073741824,1073741824,4]", "[0, 0]", "[-1, 4]", "\"\\u0000\"", "\"\\ud800\"", "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]",
    };

    private static readonly byte[] Interesting = { 0, 0xFF, (byte)'"', (byte)'{', (byte)'}', (byte)'[', (byte)']', (byte)',', (byte)':', (byte)'-',
        (byte)'0', (byte)'9', (byte)'e', (byte)'\\', (byte)' ', 0x80, 0xC3, 0xED, 0xF4 };

    /// <summary>One to four stacked mutations of <paramref name="input"/>.</summary>
    public static byte[] Mutate(byte[] input, Random rng)
    {
        var data = input;
        int n = 1 + rng.Next(4);
        for (int i = 0; i < n; i++) data = MutateOnce(data, rng);
        return data;
    }

    private static byte[] MutateOnce(byte[] d, Random rng)
    {
        if (d.Length == 0) return new[] { Interesting[rng.Next(Interesting.Length)] };
        var list = new List<byte>(d);
        int pos = rng.Next(d.Length);
        switch (rng.Next(10))
        {
            case 0:
                list[pos] ^= (byte)(1 << rng.Next(8));
                break;
            case 1:
                list[pos] = Interesting[rng.Next(Interesting.Length)];
                break;
            case 2:
                list.RemoveRange(pos, Math.Min(d.Length - pos, 1 + rng.Next(16)));
                break;
            case 3:
            {
                int from = rng.Next(d.Length), len = Math.Min(d.Length - from, 1 + rng.Next(32));
                list.InsertRange(pos, d.Skip(from).Take(len));
                break;
            }
            case 4:
                list.RemoveRange(pos, d.Length - pos);
                break;
            case 5:
                list.Insert(pos, (byte)(0x80 + rng.Next(0x80)));
                break;
            default:
                return MutateJson(d, rng);
        }
        return list.ToArray();
    }

    /// <summary>Replaces a JSON value (number, literal, string, small array) or duplicates a key.</summary>
    private static byte[] MutateJson(byte[] d, Random rng)
    {
        string s = Encoding.Latin1.GetString(d);
        var values = new List<(int Start, int Length)>();
        var keys = new List<(int Start, int Length)>();
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == ':')
            {
                int j = i + 1;
                while (j < s.Length && s[j] == ' ') j++;
                int end = ValueEnd(s, j);
                if (end > j) values.Add((j, end - j));
                int k = i - 1;
                if (k >= 0 && s[k] == '"')
                {
                    int q = s.LastIndexOf('"', k - 1 < 0 ? 0 : k - 1);
                    if (q >= 0) keys.Add((q, end - q));
                }
            }
        }
        if (values.Count == 0) return d;
        if (rng.Next(6) == 0 && keys.Count > 0)
        {
            // A duplicate key: repeat one "key": value pair right after the opening brace.
            var (start, length) = keys[rng.Next(keys.Count)];
            int brace = s.IndexOf('{');
            if (brace >= 0) s = s[..(brace + 1)] + s.Substring(start, length) + "," + s[(brace + 1)..];
            return Encoding.Latin1.GetBytes(s);
        }
        var (vs, vl) = values[rng.Next(values.Count)];
        s = s[..vs] + Literals[rng.Next(Literals.Length)] + s[(vs + vl)..];
        return Encoding.Latin1.GetBytes(s);
    }

    private static int ValueEnd(string s, int j)
    {
        if (j >= s.Length) return j;
        if (s[j] == '"')
        {
            int e = j + 1;
            while (e < s.Length && s[e] != '"') e += s[e] == '\\' ? 2 : 1;
            return Math.Min(e + 1, s.Length);
        }
        if (s[j] == '[' || s[j] == '{')
        {
            char open = s[j], close = open == '[' ? ']' : '}';
            int depth = 0;
            for (int e = j; e < s.Length; e++)
            {
                if (s[e] == open) depth++;
                else if (s[e] == close && --depth == 0) return e + 1;
            }
            return j;
        }
        int k = j;
        while (k < s.Length && s[k] is not (',' or '}' or ']' or '\n' or ' ')) k++;
        return k;
    }
}
