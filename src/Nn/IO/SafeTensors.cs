using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Finetune.Kernels;

namespace Finetune.Nn.IO;

/// <summary>
/// The safetensors format: an 8-byte little-endian header length, a JSON header mapping names to dtype, shape and
/// [begin, end) byte offsets into the data section that follows, then raw little-endian data.
/// Reading validates every size and offset before touching data; writing goes to a temporary file that is renamed.
/// </summary>
public static class SafeTensors
{
    private const long MaxHeaderBytes = 100L << 20;

    /// <summary>Writes float32/int32 tensors (any device, any layout) to <paramref name="path"/> atomically.</summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        var entries = tensors.OrderBy(t => t.Key, StringComparer.Ordinal).ToList();
        var header = new JsonObject();
        if (metadata is not null)
        {
            var meta = new JsonObject();
            foreach (var (k, v) in metadata) meta[k] = v;
            header["__metadata__"] = meta;
        }
        long offset = 0;
        foreach (var (name, t) in entries)
        {
            if (name == "__metadata__" || header.ContainsKey(name))
                throw new ArgumentException($"safetensors: {path}: duplicate or reserved tensor name '{name}'");
            string dtype = t.DType switch
            {
                DType.Float32 => "F32",
                DType.Int32 => "I32",
                _ => throw new ArgumentException($"safetensors: {path}: tensor '{name}' has unsupported dtype {t.DType.Name()}"),
            };
            long bytes = t.Count * 4;
            header[name] = new JsonObject
            {
                ["dtype"] = dtype,
                ["shape"] = new JsonArray(t.Shape.Select(d => (JsonNode)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        // Pad the header with spaces so the data section starts 8-byte aligned.
        int padded = (json.Length + 7) / 8 * 8;
        AtomicFile.Write(path, f =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
            f.Write(len);
            f.Write(json);
            for (int i = json.Length; i < padded; i++) f.WriteByte((byte)' ');
            foreach (var (_, t) in entries) WriteData(f, t);
        });
    }

    private static void WriteData(Stream f, Tensor t)
    {
        var bytes = new byte[t.Count * 4];
        if (t.DType == DType.Float32)
        {
            var v = t.ToArray();
            for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), v[i]);
        }
        else
        {
            var v = t.ToIntArray();
            for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i * 4), v[i]);
        }
        f.Write(bytes);
    }

    /// <summary>
    /// Reads every tensor: F32, F16 and BF16 become float32; I32 and I64 (when in range) become int32. Float tensors must
    /// hold finite values. The tensors are not in any scope's care: the caller disposes them. Every problem with the file
    /// is an <see cref="InvalidDataException"/> naming the file, the tensor or field, the value and what was expected.
    /// </summary>
    public static Dictionary<string, Tensor> Load(string path, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var f = Open(path);
        return Load(f, path, device);
    }

    /// <summary>Reads a safetensors stream (seekable); <paramref name="source"/> names it in errors.</summary>
    public static Dictionary<string, Tensor> Load(Stream stream, string source, Device? device = null)
    {
        var header = ReadHeader(stream, source);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var s in header.Entries)
            {
                var raw = new byte[s.End - s.Begin];
                stream.Seek(header.DataStart + s.Begin, SeekOrigin.Begin);
                stream.ReadExactly(raw);
                var t = Decode(source, s.Name, s.DType, s.Shape, raw, device);
                t.Keep();
                result[s.Name] = t;
            }
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
        return result;
    }

    /// <summary>The header's <c>__metadata__</c> strings (empty when absent); the whole header is validated.</summary>
    public static Dictionary<string, string> ReadMetadata(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var f = Open(path);
        return ReadHeader(f, path).Metadata;
    }

    private static FileStream Open(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (FileNotFoundException e)
        {
            throw new FileNotFoundException($"{path}: file not found", path, e);
        }
    }

    private sealed record Entry(string Name, string DType, int[] Shape, long Begin, long End);

    private sealed record Header(long DataStart, List<Entry> Entries, Dictionary<string, string> Metadata);

    private static Header ReadHeader(Stream f, string source)
    {
        long fileLength = f.Length;
        if (fileLength < 8)
            throw new InvalidDataException($"{source}: the file has {fileLength} bytes, expected at least 8 (the header length field)");
        Span<byte> len = stackalloc byte[8];
        f.Seek(0, SeekOrigin.Begin);
        f.ReadExactly(len);
        ulong headerLen = BinaryPrimitives.ReadUInt64LittleEndian(len);
        if (headerLen > MaxHeaderBytes)
            throw new InvalidDataException($"{source}: field 'header length' is {headerLen} bytes, expected at most " +
                $"{MaxHeaderBytes} (100 MiB)");
        if ((long)headerLen > fileLength - 8)
            throw new InvalidDataException($"{source}: field 'header length' is {headerLen} bytes, but only {fileLength - 8} bytes " +
                $"follow it (truncated file?)");
        var headerBytes = new byte[headerLen];
        f.ReadExactly(headerBytes);
        long dataStart = 8 + (long)headerLen, dataLength = fileLength - dataStart;
        var header = JsonFields.Parse(headerBytes, source);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var entries = new List<Entry>();
        foreach (var (name, node) in header.Object)
        {
            if (name == "__metadata__")
            {
                if (node is not JsonObject meta) throw header.Error(name, node, "an object of strings");
                foreach (var (k, v) in meta)
                    metadata[k] = v?.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : throw header.Error($"__metadata__.{k}",
                        v, "a string");
                continue;
            }
            entries.Add(ParseEntry(source, name, node, dataLength));
        }
        // The entries must tile the data section exactly: no gaps, no overlaps.
        long expect = 0;
        foreach (var s in entries.OrderBy(s => s.Begin).ThenBy(s => s.End))
        {
            if (s.Begin != expect)
                throw new InvalidDataException($"{source}: tensor '{JsonFields.Printable(s.Name)}' field 'data_offsets' starts at " +
                    $"{s.Begin}, expected {expect} (entries overlap or leave a gap)");
            expect = s.End;
        }
        if (expect != dataLength)
            throw new InvalidDataException($"{source}: the tensors cover {expect} bytes of data, but the file holds " +
                $"{dataLength} (truncated or trailing bytes)");
        return new Header(dataStart, entries, metadata);
    }

    private static Entry ParseEntry(string source, string name, JsonNode? node, long dataLength)
    {
        InvalidDataException Bad(string field, JsonNode? value, string expected) =>
            new($"{source}: tensor '{JsonFields.Printable(name)}' field '{JsonFields.Printable(field)}' is {JsonFields.Show(value)}, " +
                $"expected {expected}");
        if (node is not JsonObject o) throw Bad("(entry)", node, "an object with dtype, shape and data_offsets");
        foreach (var (key, value) in o)
            if (key is not ("dtype" or "shape" or "data_offsets")) throw Bad(key, value, "no such field (dtype, shape, data_offsets)");
        var dtypeNode = o["dtype"];
        string dtype = dtypeNode?.GetValueKind() == JsonValueKind.String ? dtypeNode.GetValue<string>() : "";
        int size = dtype switch
        {
            "F32" or "I32" => 4,
            "F16" or "BF16" => 2,
            "I64" => 8,
            _ => throw Bad("dtype", dtypeNode, "one of F32, F16, BF16, I32, I64"),
        };
        if (o["shape"] is not JsonArray shapeNode) throw Bad("shape", o["shape"], "an array of sizes");
        var shape = new int[shapeNode.Count];
        long count = 1;
        bool overflow = false;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shapeNode[i] is not JsonValue v || v.GetValueKind() != JsonValueKind.Number || !v.TryGetValue<long>(out long dim)
                || dim < 0 || dim > int.MaxValue)
                throw Bad($"shape[{i}]", shapeNode[i], $"an integer in [0, {int.MaxValue}]");
            shape[i] = (int)dim;
            overflow |= dim != 0 && count > long.MaxValue / dim;
            count = overflow ? count : count * dim;
        }
        if (shape.Contains(0)) (count, overflow) = (0, false);
        // The element count and byte size are checked, not wrapped: [2^30, 2^30, 4] must not pass as 0 bytes.
        if (overflow || count > Array.MaxLength || count * size > Array.MaxLength)
            throw Bad("shape", shapeNode, $"at most {Array.MaxLength} elements and bytes (one array); this shape's element count " +
                $"overflows or exceeds it");
        long bytes = count * size;
        if (o["data_offsets"] is not JsonArray off || off.Count != 2
            || off[0] is not JsonValue b0 || b0.GetValueKind() != JsonValueKind.Number || !b0.TryGetValue<long>(out long begin)
            || off[1] is not JsonValue e0 || e0.GetValueKind() != JsonValueKind.Number || !e0.TryGetValue<long>(out long end))
            throw Bad("data_offsets", o["data_offsets"], "[begin, end] as two integers");
        if (begin < 0 || end < begin || end > dataLength)
            throw Bad("data_offsets", off, $"0 <= begin <= end <= {dataLength} (the data section's size)");
        if (end - begin != bytes)
            throw Bad("data_offsets", off, $"a span of {bytes} bytes ({dtype} shape [{string.Join(", ", shape)}]), not {end - begin}");
        return new Entry(name, dtype, shape, begin, end);
    }

    private static Tensor Decode(string path, string name, string dtype, int[] shape, byte[] raw, Device? device)
    {
        float[] v = dtype switch
        {
            "F32" => DecodeFloats(raw, 4, b => BinaryPrimitives.ReadSingleLittleEndian(b)),
            "F16" => DecodeFloats(raw, 2, b => (float)BinaryPrimitives.ReadHalfLittleEndian(b)),
            "BF16" => DecodeFloats(raw, 2, b => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(b) << 16)),
            _ => Array.Empty<float>(),
        };
        if (dtype is "I32" or "I64") return DecodeInts(path, name, dtype, shape, raw, device);
        for (int i = 0; i < v.Length; i++)
            if (!float.IsFinite(v[i]))
                throw new InvalidDataException(
                    $"{path}: tensor '{JsonFields.Printable(name)}' element {i} is {v[i]}, expected finite weights");
        return Tensor.FromArray(v, shape, device);
    }

    private static float[] DecodeFloats(byte[] raw, int size, ReadElement read)
    {
        var v = new float[raw.Length / size];
        for (int i = 0; i < v.Length; i++) v[i] = read(raw.AsSpan(i * size, size));
        return v;
    }

    private delegate float ReadElement(ReadOnlySpan<byte> bytes);

    private static Tensor DecodeInts(string path, string name, string dtype, int[] shape, byte[] raw, Device? device)
    {
        if (dtype == "I32")
        {
            var v32 = new int[raw.Length / 4];
            for (int i = 0; i < v32.Length; i++) v32[i] = BinaryPrimitives.ReadInt32LittleEndian(raw.AsSpan(i * 4));
            return Tensor.FromArray(v32, shape, device);
        }
        var v = new int[raw.Length / 8];
        for (int i = 0; i < v.Length; i++)
        {
            long x = BinaryPrimitives.ReadInt64LittleEndian(raw.AsSpan(i * 8));
            if (x is < int.MinValue or > int.MaxValue)
                throw new InvalidDataException($"{path}: tensor '{JsonFields.Printable(name)}' element {i} is {x} (I64), expected a " +
                    $"value that fits int32");
            v[i] = (int)x;
        }
        return Tensor.FromArray(v, shape, device);
    }
}
