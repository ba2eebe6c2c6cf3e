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
    /// Reads every tensor: F32, F16 and BF16 become float32; I32 and I64 (when in range) become int32. The tensors
    /// are not in any scope's care: the caller disposes them.
    /// </summary>
    public static Dictionary<string, Tensor> Load(string path, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        long fileLength = f.Length;
        if (fileLength < 8)
            throw new InvalidDataException($"{path}: {fileLength} bytes is too short for a safetensors file (field header length needs 8)");
        Span<byte> len = stackalloc byte[8];
        f.ReadExactly(len);
        ulong headerLen = BinaryPrimitives.ReadUInt64LittleEndian(len);
        if (headerLen > MaxHeaderBytes || (long)headerLen > fileLength - 8)
            throw new InvalidDataException($"{path}: field header length is {headerLen} bytes, but the file has "
                + $"{fileLength - 8} bytes after it");
        var headerBytes = new byte[headerLen];
        f.ReadExactly(headerBytes);
        long dataStart = 8 + (long)headerLen, dataLength = fileLength - dataStart;
        JsonObject header;
        try
        {
            header = JsonNode.Parse(headerBytes) as JsonObject
                ?? throw new InvalidDataException($"{path}: the header is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: the header is not valid JSON: {e.Message}", e);
        }
        var specs = new List<(string Name, string DType, int[] Shape, long Begin, long End)>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__") continue;
            specs.Add(ParseEntry(path, name, node, dataLength));
        }
        // The entries must tile the data section exactly: no gaps, no overlaps.
        long expect = 0;
        foreach (var s in specs.OrderBy(s => s.Begin).ThenBy(s => s.End))
        {
            if (s.Begin != expect)
                throw new InvalidDataException($"{path}: tensor '{s.Name}' field data_offsets starts at {s.Begin}, expected {expect} "
                    + "(entries overlap or leave a gap)");
            expect = s.End;
        }
        if (expect != dataLength)
            throw new InvalidDataException($"{path}: the tensors cover {expect} bytes of data but the file holds {dataLength} "
                + "(truncated or trailing bytes)");
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var s in specs)
            {
                var raw = new byte[s.End - s.Begin];
                f.Seek(dataStart + s.Begin, SeekOrigin.Begin);
                f.ReadExactly(raw);
                var t = Decode(path, s.Name, s.DType, s.Shape, raw, device);
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

    /// <summary>The header's <c>__metadata__</c> strings (empty when absent).</summary>
    public static Dictionary<string, string> ReadMetadata(string path)
    {
        using var f = File.OpenRead(path);
        Span<byte> len = stackalloc byte[8];
        f.ReadExactly(len);
        ulong headerLen = BinaryPrimitives.ReadUInt64LittleEndian(len);
        if (headerLen > MaxHeaderBytes || (long)headerLen > f.Length - 8)
            throw new InvalidDataException($"{path}: field header length is {headerLen} bytes, but the file has "
                + $"{f.Length - 8} bytes after it");
        var bytes = new byte[headerLen];
        f.ReadExactly(bytes);
        var meta = (JsonNode.Parse(bytes) as JsonObject)?["__metadata__"] as JsonObject;
        return meta?.ToDictionary(kv => kv.Key, kv => kv.Value?.GetValue<string>() ?? "") ?? new Dictionary<string, string>();
    }

    private static (string, string, int[], long, long) ParseEntry(string path, string name, JsonNode? node, long dataLength)
    {
        if (node is not JsonObject o) throw new InvalidDataException($"{path}: tensor '{name}' is not a JSON object");
        string dtype = (o["dtype"] as JsonValue)?.TryGetValue<string>(out var d) == true ? d
            : throw new InvalidDataException($"{path}: tensor '{name}' field dtype is missing or not a string");
        int size = dtype switch
        {
            "F32" or "I32" => 4,
            "F16" or "BF16" => 2,
            "I64" => 8,
            _ => throw new InvalidDataException($"{path}: tensor '{name}' field dtype '{dtype}' is not supported (F32, "
                + "F16, BF16, I32, I64)"),
        };
        if (o["shape"] is not JsonArray shapeNode)
            throw new InvalidDataException($"{path}: tensor '{name}' field shape is missing or not an array");
        var shape = new int[shapeNode.Count];
        long count = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shapeNode[i] is not JsonValue v || !v.TryGetValue<long>(out long dim) || dim < 0 || dim > int.MaxValue)
                throw new InvalidDataException($"{path}: tensor '{name}' field shape has an invalid entry {shapeNode[i]?.ToJsonString()}");
            shape[i] = (int)dim;
            count = checked(count * dim);
        }
        if (o["data_offsets"] is not JsonArray off || off.Count != 2
            || off[0] is not JsonValue b0 || !b0.TryGetValue<long>(out long begin)
            || off[1] is not JsonValue e0 || !e0.TryGetValue<long>(out long end))
            throw new InvalidDataException($"{path}: tensor '{name}' field data_offsets must be [begin, end]");
        if (begin < 0 || end < begin || end > dataLength)
            throw new InvalidDataException($"{path}: tensor '{name}' field data_offsets [{begin}, {end}] lies outside the "
                + $"{dataLength}-byte data section");
        if (end - begin != count * size)
            throw new InvalidDataException($"{path}: tensor '{name}' field data_offsets spans {end - begin} bytes, but {dtype} shape "
                + $"[{string.Join(", ", shape)}] needs {count * size}");
        return (name, dtype, shape, begin, end);
    }

    private static Tensor Decode(string path, string name, string dtype, int[] shape, byte[] raw, Device? device)
    {
        switch (dtype)
        {
            case "F32":
            {
                var v = new float[raw.Length / 4];
                for (int i = 0; i < v.Length; i++) v[i] = BinaryPrimitives.ReadSingleLittleEndian(raw.AsSpan(i * 4));
                return Tensor.FromArray(v, shape, device);
            }
            case "F16":
            {
                var v = new float[raw.Length / 2];
                for (int i = 0; i < v.Length; i++) v[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(raw.AsSpan(i * 2));
                return Tensor.FromArray(v, shape, device);
            }
            case "BF16":
            {
                var v = new float[raw.Length / 2];
                for (int i = 0; i < v.Length; i++)
                    v[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(raw.AsSpan(i * 2)) << 16);
                return Tensor.FromArray(v, shape, device);
            }
            case "I32":
            {
                var v = new int[raw.Length / 4];
                for (int i = 0; i < v.Length; i++) v[i] = BinaryPrimitives.ReadInt32LittleEndian(raw.AsSpan(i * 4));
                return Tensor.FromArray(v, shape, device);
            }
            default:
            {
                var v = new int[raw.Length / 8];
                for (int i = 0; i < v.Length; i++)
                {
                    long x = BinaryPrimitives.ReadInt64LittleEndian(raw.AsSpan(i * 8));
                    if (x is < int.MinValue or > int.MaxValue)
                        throw new InvalidDataException($"{path}: tensor '{name}' (I64) holds {x}, which does not fit int32");
                    v[i] = (int)x;
                }
                return Tensor.FromArray(v, shape, device);
            }
        }
    }
}
