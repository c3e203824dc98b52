using System.Buffers.Binary;
using Bnn.Onnx.OnnxImport.Protobuf;

namespace Bnn.Onnx.OnnxImport;

/// <summary>
/// Turns a <see cref="TensorProto"/> into a <see cref="Tensor"/> of doubles: raw little-endian bytes, the typed
/// fields, or external data in a file beside the model. Sizes are checked against the declared shape and the
/// <see cref="ImportOptions"/> limits before anything is allocated.
/// </summary>
internal static class TensorReader
{
    /// <summary>Bytes per element, or 0 for a type the importer does not read.</summary>
    public static int ElementSize(int dataType) => (ElementType)dataType switch
    {
        ElementType.Float or ElementType.Int32 or ElementType.UInt32 => 4,
        ElementType.Double or ElementType.Int64 or ElementType.UInt64 => 8,
        ElementType.Float16 or ElementType.BFloat16 or ElementType.Int16 or ElementType.UInt16 => 2,
        ElementType.Int8 or ElementType.UInt8 or ElementType.Bool => 1,
        _ => 0,
    };

    /// <summary>Number of elements of a declared shape; refuses negative dims and sizes over the limit.</summary>
    public static long CheckedElementCount(IReadOnlyList<long> dims, ImportOptions options, string where)
    {
        long count = 1;
        foreach (long d in dims)
        {
            if (d < 0) throw new OnnxImportException($"{where}: negative dimension {d} in shape [{string.Join(",", dims)}]");
            if (d > int.MaxValue) throw new OnnxImportException($"{where}: dimension {d} is too large (limit {options.MaxTensorElements} elements)");
        }
        if (dims.Contains(0)) return 0;
        foreach (long d in dims)
        {
            if (count > options.MaxTensorElements / d)
                throw new OnnxImportException(
                    $"{where}: declared shape [{string.Join(",", dims)}] exceeds the limit of {options.MaxTensorElements} elements");
            count *= d;
        }
        return count;
    }

    /// <summary>Reads <paramref name="proto"/>; external data is looked up under <paramref name="baseDirectory"/>.</summary>
    /// <param name="where">Context for error messages, e.g. <c>model.onnx: initializer 'fc.weight'</c>.</param>
    public static Tensor Read(TensorProto proto, string name, string? baseDirectory, ImportOptions options, string where)
    {
        int dataType = proto.DataType;
        int size = ElementSize(dataType);
        if (size == 0)
            throw new OnnxImportException(
                $"{where}: unsupported dtype {ElementTypes.OnnxTypeName(dataType)} (supported: float32, float64, float16, bfloat16, int8-64, uint8-64, bool)");
        if (proto.Segment is not null)
            throw new OnnxImportException($"{where}: segmented tensors are not supported");

        long count = CheckedElementCount(proto.Dims, options, where);
        int[] shape = proto.Dims.Select(d => (int)d).ToArray();
        var type = (ElementType)dataType;
        long byteCount = count * size;

        double[] data;
        if (proto.DataLocation == TensorProto.Types.DataLocation.External)
        {
            byte[] bytes = ReadExternal(proto, baseDirectory, byteCount, options, where);
            data = FromRaw(bytes, type, (int)count);
        }
        else if (!proto.RawData.IsEmpty)
        {
            if (proto.RawData.Length != byteCount)
                throw new OnnxImportException(
                    $"{where}: declared shape [{string.Join(",", proto.Dims)}] needs {byteCount} bytes of {ElementTypes.Name(type)} but raw_data holds {proto.RawData.Length}");
            data = FromRaw(proto.RawData.Span, type, (int)count);
        }
        else
        {
            data = FromTyped(proto, type, (int)count, where);
        }
        return new Tensor(name, type, shape, data);
    }

    private static double[] FromTyped(TensorProto proto, ElementType type, int count, string where)
    {
        int present = type switch
        {
            ElementType.Float => proto.FloatData.Count,
            ElementType.Double => proto.DoubleData.Count,
            ElementType.Int64 => proto.Int64Data.Count,
            ElementType.UInt32 or ElementType.UInt64 => proto.Uint64Data.Count,
            _ => proto.Int32Data.Count,
        };
        if (present != count)
            throw new OnnxImportException(
                $"{where}: declared shape [{string.Join(",", proto.Dims)}] has {count} elements but the tensor holds {present}");

        var data = new double[count];
        for (int i = 0; i < count; i++)
        {
            data[i] = type switch
            {
                ElementType.Float => proto.FloatData[i],
                ElementType.Double => proto.DoubleData[i],
                ElementType.Int64 => proto.Int64Data[i],
                ElementType.UInt32 or ElementType.UInt64 => proto.Uint64Data[i],
                ElementType.Float16 => (double)BitConverter.UInt16BitsToHalf((ushort)proto.Int32Data[i]),
                ElementType.BFloat16 => BitConverter.Int32BitsToSingle((proto.Int32Data[i] & 0xFFFF) << 16),
                ElementType.Bool => proto.Int32Data[i] != 0 ? 1 : 0,
                _ => proto.Int32Data[i],
            };
        }
        return data;
    }

    private static double[] FromRaw(ReadOnlySpan<byte> raw, ElementType type, int count)
    {
        var data = new double[count];
        for (int i = 0; i < count; i++)
        {
            data[i] = type switch
            {
                ElementType.Float => BinaryPrimitives.ReadSingleLittleEndian(raw[(4 * i)..]),
                ElementType.Double => BinaryPrimitives.ReadDoubleLittleEndian(raw[(8 * i)..]),
                ElementType.Float16 => (double)BinaryPrimitives.ReadHalfLittleEndian(raw[(2 * i)..]),
                ElementType.BFloat16 => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(raw[(2 * i)..]) << 16),
                ElementType.Int8 => (sbyte)raw[i],
                ElementType.UInt8 => raw[i],
                ElementType.Bool => raw[i] != 0 ? 1 : 0,
                ElementType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(raw[(2 * i)..]),
                ElementType.UInt16 => BinaryPrimitives.ReadUInt16LittleEndian(raw[(2 * i)..]),
                ElementType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(raw[(4 * i)..]),
                ElementType.UInt32 => BinaryPrimitives.ReadUInt32LittleEndian(raw[(4 * i)..]),
                ElementType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(raw[(8 * i)..]),
                ElementType.UInt64 => BinaryPrimitives.ReadUInt64LittleEndian(raw[(8 * i)..]),
                _ => throw new InvalidOperationException($"unreachable: {type}"),
            };
        }
        return data;
    }

    /// <summary>
    /// Reads external data. The location must be a relative path that stays inside the model's folder, also after
    /// following symbolic links; offset and length must lie inside the file; the file must hold the declared size.
    /// </summary>
    private static byte[] ReadExternal(TensorProto proto, string? baseDirectory, long byteCount, ImportOptions options, string where)
    {
        string? location = null;
        long offset = 0;
        long? length = null;
        foreach (var entry in proto.ExternalData)
        {
            switch (entry.Key)
            {
                case "location": location = entry.Value; break;
                case "offset": offset = ParseLong(entry.Value, "offset", where); break;
                case "length": length = ParseLong(entry.Value, "length", where); break;
            }
        }
        if (string.IsNullOrEmpty(location))
            throw new OnnxImportException($"{where}: external data has no location");
        if (baseDirectory is null)
            throw new OnnxImportException($"{where}: external data '{location}' cannot be resolved without a model folder");
        if (Path.IsPathRooted(location) || location.StartsWith('\\') || (location.Length >= 2 && location[1] == ':'))
            throw new OnnxImportException($"{where}: external data location '{location}' is an absolute path; only files inside the model's folder are read");
        if (offset < 0) throw new OnnxImportException($"{where}: external data offset {offset} is negative");

        string root = RealPath(Path.GetFullPath(baseDirectory));
        string full = Path.GetFullPath(Path.Combine(root, location));
        if (!IsInside(full, root))
            throw new OnnxImportException($"{where}: external data location '{location}' points outside the model's folder");
        string real = RealPath(full);
        if (!IsInside(real, root))
            throw new OnnxImportException($"{where}: external data location '{location}' is a link that points outside the model's folder");
        var info = new FileInfo(real);
        if (!info.Exists)
            throw new OnnxImportException($"{where}: external data file '{location}' not found beside the model");
        if (info.Length > options.MaxFileBytes)
            throw new OnnxImportException($"{where}: external data file '{location}' is {info.Length} bytes, over the limit of {options.MaxFileBytes}");

        if (length is { } declared && declared != byteCount)
            throw new OnnxImportException(
                $"{where}: external data length {declared} does not match the declared shape [{string.Join(",", proto.Dims)}] ({byteCount} bytes)");
        if (offset > info.Length || info.Length - offset < byteCount)
            throw new OnnxImportException(
                $"{where}: declared shape [{string.Join(",", proto.Dims)}] needs {byteCount} bytes at offset {offset} of '{location}' but the file holds {Math.Max(0, info.Length - offset)}");

        // Nothing to read: do not open the file at all (a FIFO would block the open forever).
        if (byteCount == 0) return [];
        var bytes = new byte[byteCount];
        using var stream = new FileStream(real, FileMode.Open, FileAccess.Read, FileShare.Read);
        stream.Seek(offset, SeekOrigin.Begin);
        stream.ReadExactly(bytes);
        return bytes;
    }

    private static long ParseLong(string text, string key, string where) =>
        long.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out long v)
            ? v
            : throw new OnnxImportException($"{where}: external data {key} '{text}' is not an integer");

    private static bool IsInside(string path, string root)
    {
        string prefix = root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar;
        return path.StartsWith(prefix, StringComparison.Ordinal);
    }

    /// <summary>The path with every symbolic link along it resolved (like realpath(3)), for existing prefixes.</summary>
    internal static string RealPath(string fullPath)
    {
        string? rootPart = Path.GetPathRoot(fullPath);
        string current = string.IsNullOrEmpty(rootPart) ? "" : rootPart;
        var parts = fullPath[current.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < parts.Length; i++)
        {
            string next = Path.Combine(current, parts[i]);
            FileSystemInfo fsi = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            if (fsi.Exists && fsi.LinkTarget is not null)
            {
                var target = fsi.ResolveLinkTarget(returnFinalTarget: true);
                if (target is null) return Path.Combine([next, .. parts[(i + 1)..]]);
                next = RealPath(Path.GetFullPath(target.FullName));
            }
            current = next;
        }
        return current;
    }
}
