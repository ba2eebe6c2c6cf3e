using System.Globalization;
using Parquet;
using Parquet.Schema;

namespace Finetune.Nn.Data;

/// <summary>
/// Parquet files (Parquet.Net), as Hugging Face datasets ship them: every row group, top-level columns of strings,
/// numbers and booleans as text; other columns (lists, structs, binary such as image bytes) are listed as unsupported.
/// </summary>
public static class ParquetTable
{
    /// <summary>More rows than this are refused before anything is allocated (a damaged footer can claim billions).</summary>
    public const int MaxRows = 10_000_000;

    /// <summary>The one entry point: every record of <paramref name="stream"/> (readable and seekable); <paramref name="source"/> names it
    /// in errors.</summary>
    public static RecordTable Read(Stream stream, string source)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanSeek)
        {
            var copy = new MemoryStream();
            stream.CopyTo(copy);
            copy.Position = 0;
            stream = copy;
        }
        try
        {
            CheckFooter(stream);
            return ReadAsync(stream, source).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is not DataFileException)
        {
            // Parquet.Net reports damaged files through many exception types (Thrift, IO, cast, index, allocation of a
            // size a damaged header claims); all of them mean "not a readable Parquet file".
            throw new DataFileException(source, null, null,
                $"not a readable Parquet file ({e.GetType().Name}: {e.Message.Split('\n')[0]})", e);
        }
    }

    /// <summary>
    /// Proves the footer (the file metadata, a Thrift struct before the last 8 bytes) well formed, and readable by Parquet.Net's
    /// own Thrift reader without running past its end, before the library reads it: a damaged footer made it loop forever
    /// (found by the fuzzer).
    /// </summary>
    private static void CheckFooter(Stream stream)
    {
        long length = stream.Length;
        if (length < 12) throw new InvalidDataException($"{length} bytes is too short for a Parquet file (at least 12)");
        Span<byte> tail = stackalloc byte[8];
        stream.Position = length - 8;
        stream.ReadExactly(tail);
        if (tail[4] != 'P' || tail[5] != 'A' || tail[6] != 'R' || tail[7] != '1')
            throw new InvalidDataException("the file does not end with the Parquet magic PAR1");
        long footer = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(tail[..4]);
        if (footer <= 0 || footer > length - 12)
            throw new InvalidDataException($"the footer claims {footer:N0} bytes in a file of {length:N0}");
        var bytes = new byte[footer];
        stream.Position = length - 8 - footer;
        stream.ReadExactly(bytes);
        int end = ThriftCompactWalk.Struct(bytes, 0, bytes.Length);
        if (end != bytes.Length) throw new InvalidDataException($"the footer's metadata ends at byte {end:N0} of {footer:N0}");
        ParquetNetThrift.Check<Parquet.Meta.FileMetaData>(bytes, 0, bytes.Length);
        stream.Position = 0;
    }

    /// <summary>
    /// Walks the page headers (Thrift structs too, each followed by its page) of the column chunks that will be read, so a
    /// damaged header is refused here, not looped over inside the library; each page must end within its chunk.
    /// </summary>
    private static void CheckPageHeaders(Stream stream, ParquetRowGroupReader group, HashSet<string> columns)
    {
        long position = stream.Position;
        foreach (var chunk in group.RowGroup.Columns)
        {
            if (chunk.MetaData is not { } meta || meta.PathInSchema.Count == 0 || !columns.Contains(meta.PathInSchema[0])) continue;
            string column = meta.PathInSchema[0];
            long start = meta.DictionaryPageOffset is > 0 and var d && d < meta.DataPageOffset ? d : meta.DataPageOffset;
            long size = meta.TotalCompressedSize;
            if (start < 4 || size <= 0 || size > int.MaxValue || start > stream.Length - size)
                throw new InvalidDataException($"column {column}: its chunk claims {size:N0} bytes at offset {start:N0} "
                    + $"in a file of {stream.Length:N0}");
            var bytes = new byte[size];
            stream.Position = start;
            stream.ReadExactly(bytes);
            var fields = new Dictionary<short, long>();
            for (int at = 0; at < bytes.Length;)
            {
                fields.Clear();
                int body = ThriftCompactWalk.Struct(bytes, at, bytes.Length, fields);
                ParquetNetThrift.Check<Parquet.Meta.PageHeader>(bytes, at, bytes.Length);
                long compressed = fields.GetValueOrDefault((short)3, -1); // PageHeader.compressed_page_size
                if (compressed < 0 || compressed > bytes.Length - body)
                    throw new InvalidDataException($"column {column}: a page at offset {start + at:N0} claims {compressed:N0} bytes, "
                        + $"{bytes.Length - body:N0} remain in its chunk");
                at = body + (int)compressed;
            }
        }
        stream.Position = position;
    }

    private static async Task<RecordTable> ReadAsync(Stream stream, string source)
    {
        await using var reader = await ParquetReader.CreateAsync(stream, leaveStreamOpen: true).ConfigureAwait(false);
        var top = reader.Schema.Fields;
        var columns = top.Select(f => f.Name).ToList();
        var unsupported = new Dictionary<string, string>();
        var readable = new List<(int Index, DataField Field)>();
        for (int i = 0; i < top.Count; i++)
        {
            if (top[i] is DataField { IsArray: false } d && IsText(d.ClrType)) readable.Add((i, d));
            else unsupported[top[i].Name] = top[i] is DataField df ? (df.IsArray ? "list of " : "") + TypeName(df.ClrType)
                : top[i].SchemaType.ToString().ToLowerInvariant();
        }
        var rows = new List<TableRow>();
        for (int g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            CheckPageHeaders(stream, group, readable.Select(r => r.Field.Name).ToHashSet());
            long count = group.RowCount;
            if (count < 0 || count > MaxRows - rows.Count)
                throw new DataFileException(source, null, null,
                    $"row group {g} claims {count:N0} rows; a dataset file may hold at most {MaxRows:N0}");
            var values = new string?[count][];
            for (int r = 0; r < count; r++) values[r] = new string?[columns.Count];
            foreach (var (index, field) in readable)
            {
                var column = await ReadColumn(group, field, (int)count).ConfigureAwait(false);
                for (int r = 0; r < count; r++) values[r][index] = column[r];
            }
            foreach (var v in values) rows.Add(new TableRow(rows.Count + 1, v));
        }
        return new RecordTable(source, columns, rows, unsupported);
    }

    /// <summary>Parquet.Net reports string columns as ReadOnlyMemory&lt;char&gt; and binary ones as ReadOnlyMemory&lt;byte&gt;.</summary>
    private static bool IsString(Type t) => t == typeof(string) || t == typeof(ReadOnlyMemory<char>);

    private static string TypeName(Type t) => t == typeof(ReadOnlyMemory<byte>) || t == typeof(byte[]) ? "binary" : t.Name;

    private static bool IsText(Type t) =>
        IsString(t) || t == typeof(bool) || t == typeof(sbyte) || t == typeof(byte) || t == typeof(short) || t == typeof(ushort)
        || t == typeof(int) || t == typeof(uint) || t == typeof(long) || t == typeof(ulong) || t == typeof(float) || t == typeof(double)
            || t == typeof(decimal);

    private static async Task<string?[]> ReadColumn(ParquetRowGroupReader group, DataField field, int count)
    {
        if (IsString(field.ClrType))
        {
            var strings = new string?[count];
            await group.ReadAsync(field, strings.AsMemory()).ConfigureAwait(false);
            return strings;
        }
        return field.ClrType switch
        {
            var t when t == typeof(bool) => await Read<bool>(group, field, count).ConfigureAwait(false),
            var t when t == typeof(sbyte) => await Read<sbyte>(group, field, count).ConfigureAwait(false),
            var t when t == typeof(byte) => await Read<byte>(group, field, count).ConfigureAwait(false),
            var t when t == typeof(short) => await Read<short>(group, field, count).ConfigureAwait(false),
            var t when t == typeof(ushort) => await Read<ushort>(group, field, count).ConfigureAwait(false),
            var t when t == typeof(int) => await Read<int>(group, field, count).ConfigureAwait(false),
            var t when t == typeof(uint) => await Read<uint>(group, field, count).ConfigureAwait(false),
            var t when t == typeof(long) => await Read<long>(group, field, count).ConfigureAwait(false),
            var t when t == typeof(ulong) => await Read<ulong>(group, field, count).ConfigureAwait(false),
            var t when t == typeof(float) => await Read<float>(group, field, count).ConfigureAwait(false),
            var t when t == typeof(double) => await Read<double>(group, field, count).ConfigureAwait(false),
            _ => await Read<decimal>(group, field, count).ConfigureAwait(false),
        };
    }

    /// <summary>A nullable or required column of <typeparamref name="T"/> as invariant text (booleans as true/false).</summary>
    private static async Task<string?[]> Read<T>(ParquetRowGroupReader group, DataField field, int count) where T : struct
    {
        var text = new string?[count];
        if (field.IsNullable)
        {
            var values = new T?[count];
            await group.ReadAsync(field, values.AsMemory()).ConfigureAwait(false);
            for (int i = 0; i < count; i++) text[i] = values[i] is { } v ? Format(v) : null;
        }
        else
        {
            var values = new T[count];
            await group.ReadAsync(field, values.AsMemory()).ConfigureAwait(false);
            for (int i = 0; i < count; i++) text[i] = Format(values[i]);
        }
        return text;
    }

    private static string Format<T>(T value) where T : struct => value switch
    {
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
