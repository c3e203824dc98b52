namespace Bnn.Onnx.Tests.Fuzz;

/// <summary>
/// A protobuf message seen only through its wire format (no schema): a list of fields, where a length-delimited
/// field whose payload itself parses as a message gets children. Lets the fuzzer change a field deep inside a
/// file and re-frame every enclosing length, or write a length prefix that lies on purpose.
/// </summary>
/// <remarks>See https://protobuf.dev/programming-guides/encoding/ (varints, tags, wire types 0, 1, 2, 5).</remarks>
internal sealed class WireField
{
    public const int Varint = 0, Fixed64 = 1, LengthDelimited = 2, Fixed32 = 5;

    public int Number { get; set; }
    public int WireType { get; set; }

    /// <summary>Value of a varint field.</summary>
    public ulong Value { get; set; }

    /// <summary>Bytes of a fixed-width field, or the payload of a length-delimited one as read.</summary>
    public byte[] Payload { get; set; } = [];

    /// <summary>The payload parsed as a message, when it parses; null for strings, packed data and the like.</summary>
    public List<WireField>? Children { get; set; }

    /// <summary>When set, the length prefix written instead of the true one (a lying length).</summary>
    public ulong? LengthOverride { get; set; }

    /// <summary>Children were edited: the payload must be written from them rather than copied.</summary>
    public bool Dirty { get; set; }

    public WireField? Parent { get; set; }

    public WireField DeepCopy(WireField? parent)
    {
        var copy = new WireField
        {
            Number = Number, WireType = WireType, Value = Value, Payload = Payload,
            LengthOverride = LengthOverride, Dirty = Dirty, Parent = parent,
        };
        copy.Children = Children?.Select(c => c.DeepCopy(copy)).ToList();
        return copy;
    }

    /// <summary>Marks this field and every enclosing field as edited.</summary>
    public void Touch()
    {
        for (var f = this; f is not null; f = f.Parent) f.Dirty = true;
    }
}

internal static class WireTree
{
    /// <summary>Parses a message; null when the bytes are not a well-framed message (groups are refused too).</summary>
    public static List<WireField>? Parse(ReadOnlySpan<byte> data, WireField? parent = null, int depth = 0)
    {
        var fields = new List<WireField>();
        int pos = 0;
        while (pos < data.Length)
        {
            if (!TryReadVarint(data, ref pos, out ulong tag)) return null;
            int number = (int)Math.Min(tag >> 3, int.MaxValue);
            int wireType = (int)(tag & 7);
            if (number == 0 || number > (1 << 29) - 1) return null;
            var field = new WireField { Number = number, WireType = wireType, Parent = parent };
            switch (wireType)
            {
                case WireField.Varint:
                    if (!TryReadVarint(data, ref pos, out ulong v)) return null;
                    field.Value = v;
                    break;
                case WireField.Fixed64:
                case WireField.Fixed32:
                    int width = wireType == WireField.Fixed64 ? 8 : 4;
                    if (data.Length - pos < width) return null;
                    field.Payload = data.Slice(pos, width).ToArray();
                    pos += width;
                    break;
                case WireField.LengthDelimited:
                    if (!TryReadVarint(data, ref pos, out ulong length) || length > (ulong)(data.Length - pos)) return null;
                    var payload = data.Slice(pos, (int)length);
                    field.Payload = payload.ToArray();
                    // Only a few levels deep: enough for model → graph → node → attribute → tensor → external data entry.
                    if (depth < 12 && payload.Length > 0) field.Children = Parse(payload, field, depth + 1);
                    pos += (int)length;
                    break;
                default:
                    return null;
            }
            fields.Add(field);
        }
        return fields;
    }

    public static byte[] Write(List<WireField> fields)
    {
        var output = new MemoryStream();
        Write(fields, output);
        return output.ToArray();
    }

    private static void Write(List<WireField> fields, MemoryStream output)
    {
        foreach (var f in fields)
        {
            WriteVarint(output, ((ulong)(uint)f.Number << 3) | (uint)f.WireType);
            switch (f.WireType)
            {
                case WireField.Varint:
                    WriteVarint(output, f.Value);
                    break;
                case WireField.LengthDelimited:
                    byte[] payload = f.Dirty && f.Children is not null ? Write(f.Children) : f.Payload;
                    WriteVarint(output, f.LengthOverride ?? (ulong)payload.Length);
                    output.Write(payload);
                    break;
                default:
                    output.Write(f.Payload);
                    break;
            }
        }
    }

    /// <summary>Every field of the tree, depth first.</summary>
    public static List<WireField> Flatten(List<WireField> fields)
    {
        var all = new List<WireField>();
        var stack = new Stack<WireField>(Enumerable.Reverse(fields));
        while (stack.Count > 0)
        {
            var f = stack.Pop();
            all.Add(f);
            if (f.Children is not null)
                for (int i = f.Children.Count - 1; i >= 0; i--) stack.Push(f.Children[i]);
        }
        return all;
    }

    public static bool TryReadVarint(ReadOnlySpan<byte> data, ref int pos, out ulong value)
    {
        value = 0;
        for (int shift = 0; shift < 70 && pos < data.Length; shift += 7)
        {
            byte b = data[pos++];
            if (shift < 64) value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return true;
        }
        return false;
    }

    public static void WriteVarint(Stream output, ulong value)
    {
        while (value >= 0x80)
        {
            output.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        output.WriteByte((byte)value);
    }

    public static byte[] Varint(ulong value)
    {
        var output = new MemoryStream();
        WriteVarint(output, value);
        return output.ToArray();
    }
}
