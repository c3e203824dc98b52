using Google.Protobuf.Reflection;

namespace Bnn.Onnx.OnnxImport;

/// <summary>
/// A pass over a model file's protobuf wire format, before it is parsed, that refuses what would make parsing
/// itself quadratic: a singular (not repeated) message field that occurs more than once in one message. Protobuf
/// merges the occurrences, and for a field inside a <c>oneof</c> (such as <c>TypeProto.tensor_type</c>, reached
/// again through every repeat of <c>ValueInfoProto.type</c>) Google.Protobuf merges each one by copying everything
/// merged so far: a few hundred kilobytes of repeats cost gigabytes and minutes. No exporter writes such files.
/// </summary>
/// <remarks>
/// Reads the file once, guided by the message descriptors; nesting deeper than Google.Protobuf's recursion limit
/// (100) and anything malformed are left for the parser to refuse, since it stops there too.
/// Wire format: https://protobuf.dev/programming-guides/encoding/.
/// </remarks>
internal static class WireCheck
{
    private const int RecursionLimit = 100;

    /// <summary>Null when the bytes are fine to parse, else what repeats (field and message names).</summary>
    public static string? FindQuadraticMerge(ReadOnlySpan<byte> bytes, MessageDescriptor descriptor)
    {
        int pos = 0;
        return Scan(bytes, ref pos, descriptor, 0);
    }

    /// <summary>Scans one message; stops quietly (null) at malformed input.</summary>
    private static string? Scan(ReadOnlySpan<byte> data, ref int pos, MessageDescriptor descriptor, int depth)
    {
        HashSet<int>? seenSingular = null;
        while (pos < data.Length)
        {
            if (!TryReadVarint(data, ref pos, out ulong tag)) return null;
            int wireType = (int)(tag & 7);
            ulong number = tag >> 3;
            switch (wireType)
            {
                case 0:
                    if (!TryReadVarint(data, ref pos, out _)) return null;
                    break;
                case 1:
                case 5:
                    int width = wireType == 1 ? 8 : 4;
                    if (data.Length - pos < width) return null;
                    pos += width;
                    break;
                case 2:
                    if (!TryReadVarint(data, ref pos, out ulong length)) return null;
                    // A message that claims more bytes than are left is still parsed up to the end before the
                    // parser notices: scan what is there, then stop.
                    bool cut = length > (ulong)(data.Length - pos);
                    if (cut) length = (ulong)(data.Length - pos);
                    var field = number <= int.MaxValue ? descriptor.FindFieldByNumber((int)number) : null;
                    if (field is { FieldType: FieldType.Message })
                    {
                        if (!field.IsRepeated && !(seenSingular ??= []).Add(field.FieldNumber))
                            return $"field '{field.Name}' of {descriptor.Name} appears more than once";
                        if (depth + 1 < RecursionLimit)
                        {
                            int inner = 0;
                            string? found = Scan(data.Slice(pos, (int)length), ref inner, field.MessageType, depth + 1);
                            if (found is not null) return found;
                        }
                    }
                    if (cut) return null;
                    pos += (int)length;
                    break;
                case 3:
                    // An unknown group: skip to its end group, however deeply groups nest inside it.
                    if (!SkipGroup(data, ref pos)) return null;
                    break;
                default:
                    return null;
            }
        }
        return null;
    }

    private static bool SkipGroup(ReadOnlySpan<byte> data, ref int pos)
    {
        int open = 1;
        while (open > 0)
        {
            if (!TryReadVarint(data, ref pos, out ulong tag)) return false;
            switch ((int)(tag & 7))
            {
                case 0:
                    if (!TryReadVarint(data, ref pos, out _)) return false;
                    break;
                case 1:
                    if (data.Length - pos < 8) return false;
                    pos += 8;
                    break;
                case 5:
                    if (data.Length - pos < 4) return false;
                    pos += 4;
                    break;
                case 2:
                    if (!TryReadVarint(data, ref pos, out ulong length) || length > (ulong)(data.Length - pos)) return false;
                    pos += (int)length;
                    break;
                case 3:
                    open++;
                    break;
                case 4:
                    open--;
                    break;
                default:
                    return false;
            }
        }
        return true;
    }

    private static bool TryReadVarint(ReadOnlySpan<byte> data, ref int pos, out ulong value)
    {
        value = 0;
        for (int shift = 0; shift < 64 && pos < data.Length; shift += 7)
        {
            byte b = data[pos++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return true;
        }
        return false;
    }
}
