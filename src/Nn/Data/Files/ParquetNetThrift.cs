using System.Reflection;
using Parquet;

namespace Finetune.Nn.Data;

/// <summary>
/// Runs Parquet.Net's own Thrift reader over a footer or page header before the library reads it for real, on a stream
/// that throws at its end. Parquet.Net 6.1.0 skips an unknown struct field by reading field headers only, and reads the
/// byte after the end as 0xFF (never a stop): a damaged footer sent it into an endless loop (found by the fuzzer). The same
/// reader on the same bytes stops here with an exception instead, so the real read cannot loop. Reached by reflection
/// (the reader is internal): if a later Parquet.Net renames it, only <see cref="ThriftCompactWalk"/> guards the read, and
/// the fuzz regression footer_struct_skip_past_end_seed1_80163.parquet, which only this check refuses, fails its deadline.
/// </summary>
internal static class ParquetNetThrift
{
    private static readonly ConstructorInfo? Protocol = typeof(ParquetReader).Assembly
        .GetType("Parquet.Meta.Proto.ThriftCompactProtocolReader")?.GetConstructor(new[] { typeof(Stream) });

    /// <summary>Parses a <typeparamref name="T"/> (FileMetaData, PageHeader) at <paramref name="start"/> as Parquet.Net would.</summary>
    /// <exception cref="InvalidDataException">The reader ran past <paramref name="end"/> or refused the bytes.</exception>
    public static void Check<T>(byte[] data, int start, int end)
    {
        if (Protocol is null || ReadMethod(typeof(T)) is not { } read) return;
        using var stream = new EndThrowingStream(data, start, end - start);
        try
        {
            read.Invoke(null, new[] { Protocol.Invoke(new object[] { stream }) });
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw new InvalidDataException($"its {typeof(T).Name} does not parse ({e.InnerException.GetType().Name}: "
                + e.InnerException.Message.Split('\n')[0] + ")", e.InnerException);
        }
    }

    private static MethodInfo? ReadMethod(Type type) =>
        type.GetMethod("Read", BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic, new[] { Protocol!.DeclaringType! });

    /// <summary>A read-only view whose ReadByte throws at the end, where a MemoryStream's returns -1.</summary>
    private sealed class EndThrowingStream(byte[] data, int start, int count) : MemoryStream(data, start, count, writable: false)
    {
        public override int ReadByte()
        {
            int b = base.ReadByte();
            return b >= 0 ? b : throw new EndOfStreamException($"read past the end of its {Length:N0} bytes");
        }
    }
}
