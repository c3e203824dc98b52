using System.Runtime.InteropServices;
using Bnn.Onnx.OnnxImport;
using Bnn.Onnx.OnnxImport.Protobuf;
using Google.Protobuf;

namespace Bnn.Onnx.Export;

/// <summary>Small helpers to make and read ONNX <see cref="TensorProto"/>s (little-endian <c>raw_data</c>).</summary>
internal static class OnnxTensors
{
    /// <summary>A tensor of <paramref name="type"/> holding <paramref name="values"/> converted from double.</summary>
    public static TensorProto Create(string name, ElementType type, IEnumerable<long> dims, ReadOnlySpan<double> values)
    {
        var t = new TensorProto { Name = name, DataType = (int)type };
        t.Dims.AddRange(dims);
        long expected = t.Dims.Aggregate(1L, (a, b) => a * b);
        if (expected != values.Length)
            throw new ArgumentException($"tensor '{name}': {values.Length} values for shape [{string.Join(",", t.Dims)}]");
        t.RawData = type switch
        {
            ElementType.Float => Bytes<float>(values, v => (float)v),
            ElementType.Double => Bytes<double>(values, v => v),
            ElementType.Float16 => Bytes<Half>(values, v => (Half)v),
            ElementType.BFloat16 => Bytes<ushort>(values, v => (ushort)(BitConverter.SingleToUInt32Bits((float)v) >> 16)),
            ElementType.Int64 => Bytes<long>(values, v => (long)v),
            ElementType.Int32 => Bytes<int>(values, v => (int)v),
            ElementType.Int8 => Bytes<sbyte>(values, v => (sbyte)v),
            ElementType.UInt8 => Bytes<byte>(values, v => (byte)v),
            ElementType.Bool => Bytes<byte>(values, v => v != 0 ? (byte)1 : (byte)0),
            _ => throw new NotSupportedException($"tensor '{name}': element type {type} is not supported for export"),
        };
        return t;
    }

    public static TensorProto Int64(string name, params long[] values)
    {
        var t = new TensorProto { Name = name, DataType = (int)ElementType.Int64 };
        t.Dims.Add(values.Length);
        t.Int64Data.AddRange(values);
        return t;
    }

    /// <summary>The values of a tensor stored inline (raw_data or the typed fields), as doubles.</summary>
    public static double[] ToDoubles(TensorProto t)
    {
        long size = t.Dims.Aggregate(1L, (a, b) => a * b);
        if (t.DataLocation == TensorProto.Types.DataLocation.External)
            throw new NotSupportedException($"tensor '{t.Name}' uses external data");
        var type = (ElementType)t.DataType;
        var raw = t.RawData.Span;
        if (!t.RawData.IsEmpty)
        {
            return type switch
            {
                ElementType.Float => MemoryMarshal.Cast<byte, float>(raw).ToArray().Select(v => (double)v).ToArray(),
                ElementType.Double => MemoryMarshal.Cast<byte, double>(raw).ToArray(),
                ElementType.Float16 => MemoryMarshal.Cast<byte, Half>(raw).ToArray().Select(v => (double)v).ToArray(),
                ElementType.BFloat16 => MemoryMarshal.Cast<byte, ushort>(raw).ToArray().Select(v => (double)BitConverter.UInt32BitsToSingle((uint)v << 16)).ToArray(),
                ElementType.Int64 => MemoryMarshal.Cast<byte, long>(raw).ToArray().Select(v => (double)v).ToArray(),
                ElementType.Int32 => MemoryMarshal.Cast<byte, int>(raw).ToArray().Select(v => (double)v).ToArray(),
                _ => throw new NotSupportedException($"tensor '{t.Name}': element type {type} is not supported"),
            };
        }
        return type switch
        {
            ElementType.Float => t.FloatData.Select(v => (double)v).ToArray(),
            ElementType.Double => t.DoubleData.ToArray(),
            ElementType.Int64 => t.Int64Data.Select(v => (double)v).ToArray(),
            ElementType.Int32 => t.Int32Data.Select(v => (double)v).ToArray(),
            _ when size == 0 => [],
            _ => throw new NotSupportedException($"tensor '{t.Name}': element type {type} is not supported"),
        };
    }

    /// <summary>Replaces the values of <paramref name="t"/> in place, keeping its name, shape and element type.</summary>
    public static void ReplaceValues(TensorProto t, ReadOnlySpan<double> values)
    {
        var fresh = Create(t.Name, (ElementType)t.DataType, t.Dims, values);
        t.FloatData.Clear();
        t.DoubleData.Clear();
        t.Int32Data.Clear();
        t.Int64Data.Clear();
        t.RawData = fresh.RawData;
    }

    private static ByteString Bytes<T>(ReadOnlySpan<double> values, Func<double, T> convert) where T : unmanaged
    {
        var typed = new T[values.Length];
        for (int i = 0; i < typed.Length; i++) typed[i] = convert(values[i]);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX raw_data is little-endian");
        return ByteString.CopyFrom(MemoryMarshal.AsBytes(typed.AsSpan()));
    }
}
