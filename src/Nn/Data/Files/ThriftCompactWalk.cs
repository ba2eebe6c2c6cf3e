namespace Finetune.Nn.Data;

/// <summary>
/// Walks one Thrift compact-protocol struct (what Parquet's footer and page headers are) without interpreting it, to prove
/// that it is well formed before Parquet.Net reads it: every list, map and string claims no more elements or bytes than
/// remain, varints end within their width, nesting stays shallow and the struct ends before <c>end</c>. Parquet.Net 6.1.0
/// trusts those counts: a damaged footer claiming a list of two billion elements made it read past the end for minutes.
/// Returns where the struct ends and the top-level integer fields (id → value) a caller wants to check.
/// </summary>
internal sealed class ThriftCompactWalk
{
    private const int MaxDepth = 32;
    private readonly byte[] _data;
    private readonly int _end;
    private int _pos;

    private ThriftCompactWalk(byte[] data, int start, int end)
    {
        _data = data;
        _pos = start;
        _end = end;
    }

    /// <summary>The struct at <paramref name="start"/>: its end offset, and its top-level i16/i32/i64 fields.</summary>
    /// <exception cref="InvalidDataException">The struct is malformed or does not end before <paramref name="end"/>.</exception>
    public static int Struct(byte[] data, int start, int end, Dictionary<short, long>? topLevelInts = null)
    {
        var walk = new ThriftCompactWalk(data, start, end);
        walk.SkipStruct(0, topLevelInts);
        return walk._pos;
    }

    private byte Byte() => _pos < _end ? _data[_pos++] : throw Malformed("ends inside a value");

    private ulong Varint(int maxBytes)
    {
        ulong value = 0;
        for (int i = 0; i < maxBytes; i++)
        {
            byte b = Byte();
            value |= (ulong)(b & 0x7F) << (7 * i);
            if ((b & 0x80) == 0) return value;
        }
        throw Malformed($"a varint longer than {maxBytes} bytes");
    }

    private static long ZigZag(ulong v) => (long)(v >> 1) ^ -(long)(v & 1);

    /// <summary>A size that must fit, at <paramref name="minBytesEach"/> bytes per item, in what remains.</summary>
    private int Count(int minBytesEach, string what)
    {
        ulong n = Varint(5);
        if (n > (ulong)(_end - _pos) / (ulong)minBytesEach)
            throw Malformed($"claims {what} of {n:N0} in the {_end - _pos:N0} bytes that remain");
        return (int)n;
    }

    private void SkipStruct(int depth, Dictionary<short, long>? topLevelInts)
    {
        if (depth > MaxDepth) throw Malformed($"nests deeper than {MaxDepth} levels");
        short id = 0;
        while (true)
        {
            byte header = Byte();
            int type = header & 0x0F;
            if (type == 0) return;
            int delta = header >> 4;
            id = delta != 0 ? (short)(id + delta) : (short)ZigZag(Varint(3));
            if (topLevelInts is not null && type is 4 or 5 or 6)
            {
                topLevelInts[id] = ZigZag(Varint(type == 6 ? 10 : 5));
                continue;
            }
            SkipValue(type, depth);
        }
    }

    private void SkipValue(int type, int depth)
    {
        switch (type)
        {
            case 1 or 2: break;                       // a boolean field: the value is the type
            case 3: Byte(); break;                    // byte
            case 4 or 5: Varint(5); break;            // i16, i32
            case 6: Varint(10); break;                // i64
            case 7: Skip(8); break;                   // double
            case 8: Skip(Count(1, "a string")); break; // binary
            case 9 or 10:                             // list, set
            {
                byte h = Byte();
                int n = h >> 4 == 15 ? Count(1, "a list") : h >> 4;
                int element = h & 0x0F;
                for (int i = 0; i < n; i++) SkipElement(element, depth + 1);
                break;
            }
            case 11:                                  // map
            {
                int n = Count(2, "a map");
                if (n == 0) break;
                byte kv = Byte();
                for (int i = 0; i < n; i++)
                {
                    SkipElement(kv >> 4, depth + 1);
                    SkipElement(kv & 0x0F, depth + 1);
                }
                break;
            }
            case 12: SkipStruct(depth + 1, null); break;
            default: throw Malformed($"has a field of unknown type {type}");
        }
    }

    /// <summary>List, set and map elements: a boolean is a whole byte there, not folded into a field header.</summary>
    private void SkipElement(int type, int depth)
    {
        if (type is 1 or 2) Byte();
        else SkipValue(type, depth);
    }

    private void Skip(int bytes)
    {
        if (bytes > _end - _pos) throw Malformed("ends inside a value");
        _pos += bytes;
    }

    private InvalidDataException Malformed(string problem) => new($"Thrift structure at byte {_pos:N0} {problem}");
}
