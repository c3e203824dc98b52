using System.Text;

namespace Bnn.Onnx.Tests.Fuzz;

/// <summary>
/// Seeded mutations of a serialized model: raw byte damage (bit flips, truncation, inserted, deleted and
/// overwritten runs, stray absurd varints) and structure-aware edits through <see cref="WireTree"/> (lying length
/// prefixes, extreme varint values, fields repeated thousands of times, deleted, moved or grafted fields, hostile
/// strings). The same seed gives the same file.
/// </summary>
internal static class Mutator
{
    /// <summary>Largest mutated file produced; repeated fields stop growing there.</summary>
    public const int MaxOutputBytes = 2 << 20;

    /// <summary>Varint values that break naive code: negatives (10-byte varints), 2^31, 2^32, 2^40, 2^62, 2^63-1.</summary>
    private static readonly ulong[] AbsurdValues =
    [
        0, 1, 2, 3, 7, 8, 16, 17, 127, 128, 255, 65535,
        unchecked((ulong)-1L), unchecked((ulong)-2L), unchecked((ulong)(long)int.MinValue), unchecked((ulong)long.MinValue),
        int.MaxValue, (ulong)int.MaxValue + 1, uint.MaxValue, (ulong)uint.MaxValue + 1,
        1UL << 40, 1UL << 53, 1UL << 62, long.MaxValue, ulong.MaxValue,
    ];

    private static readonly string[] HostileStrings =
    [
        "", " ", "../secret.bin", "../../etc/passwd", "/etc/passwd", "/dev/zero", "C:\\Windows\\win.ini", "\\\\server\\share",
        "sub/../../secret.bin", "./", ".", "..", "a\0b", "weights.bin\0.txt", "%s%n", "\u202Eevil", "onnx::MatMul_1",
        "x", "y", "h", "Gemm", "Constant", "ai.onnx", "custom", "location", "offset", "length", "-1", "9223372036854775808",
        "1e3", " 8", "0x10", new string('a', 5000), new string('/', 300), string.Concat(Enumerable.Repeat("../", 50)),
    ];

    public static (byte[] Bytes, string Description) Mutate(byte[] seed, Random random)
    {
        int rounds = random.Next(4) switch { 0 => 2, 1 => 3, _ => 1 };
        byte[] bytes = seed;
        var description = new StringBuilder();
        for (int r = 0; r < rounds; r++)
        {
            var (next, what) = random.Next(10) < 4 ? ByteLevel(bytes, random) : Structural(bytes, random);
            bytes = next;
            description.Append(r == 0 ? "" : " + ").Append(what);
        }
        return (bytes, description.ToString());
    }

    // ---------------------------------------------------------------- raw bytes

    private static (byte[], string) ByteLevel(byte[] input, Random random)
    {
        if (input.Length == 0) return ([(byte)random.Next(256)], "one random byte");
        var bytes = (byte[])input.Clone();
        int at = random.Next(bytes.Length);
        switch (random.Next(7))
        {
            case 0:
            {
                int flips = 1 + random.Next(8);
                for (int i = 0; i < flips; i++)
                {
                    int p = random.Next(bytes.Length);
                    bytes[p] ^= (byte)(1 << random.Next(8));
                }
                return (bytes, $"{flips} bit flips");
            }
            case 1:
                return (bytes[..at], $"truncated to {at} bytes");
            case 2:
            {
                byte[] run = RandomBytes(random, 1 + random.Next(64));
                return ([.. bytes[..at], .. run, .. bytes[at..]], $"inserted {run.Length} random bytes at {at}");
            }
            case 3:
            {
                int count = Math.Min(1 + random.Next(64), bytes.Length - at);
                return ([.. bytes[..at], .. bytes[(at + count)..]], $"deleted {count} bytes at {at}");
            }
            case 4:
            {
                int count = Math.Min(1 + random.Next(16), bytes.Length - at);
                random.NextBytes(bytes.AsSpan(at, count));
                return (bytes, $"overwrote {count} bytes at {at}");
            }
            case 5:
            {
                ulong value = AbsurdValues[random.Next(AbsurdValues.Length)];
                byte[] varint = WireTree.Varint(value);
                return ([.. bytes[..at], .. varint, .. bytes[at..]], $"inserted varint {value} at {at}");
            }
            default:
            {
                int p = random.Next(bytes.Length);
                bytes[p] = (byte)(random.Next(2) == 0 ? 0xFF : 0x80);
                return (bytes, $"byte {p} set to {bytes[p]:X2}");
            }
        }
    }

    private static byte[] RandomBytes(Random random, int count)
    {
        var run = new byte[count];
        random.NextBytes(run);
        return run;
    }

    // ---------------------------------------------------------------- structure

    private static (byte[], string) Structural(byte[] input, Random random)
    {
        var root = WireTree.Parse(input);
        if (root is null || root.Count == 0) return ByteLevel(input, random);
        var all = WireTree.Flatten(root);
        var field = all[random.Next(all.Count)];
        var siblings = field.Parent?.Children ?? root;
        string where = Path(field);

        switch (random.Next(9))
        {
            case 0 when field.WireType == WireField.LengthDelimited:
            {
                ulong lie = random.Next(3) switch
                {
                    0 => AbsurdValues[random.Next(AbsurdValues.Length)],
                    1 => (ulong)field.Payload.Length + 1 + (ulong)random.Next(16),
                    _ => (ulong)Math.Max(0, field.Payload.Length - 1 - random.Next(16)),
                };
                field.LengthOverride = lie;
                field.Parent?.Touch();
                return (WireTree.Write(root), $"length of {where} set to {lie}");
            }
            case 1 when field.WireType == WireField.Varint:
            {
                field.Value = AbsurdValues[random.Next(AbsurdValues.Length)];
                field.Parent?.Touch();
                return (WireTree.Write(root), $"varint {where} set to {field.Value}");
            }
            case 2:
            {
                long size = Math.Max(1, WireTree.Write([field]).Length);
                int wanted = new[] { 2, 3, 10, 100, 1000, 20_000 }[random.Next(6)];
                int times = (int)Math.Min(wanted, Math.Max(1, (MaxOutputBytes - input.Length) / size));
                int index = siblings.IndexOf(field);
                siblings.InsertRange(index + 1, Enumerable.Range(0, times).Select(_ => field.DeepCopy(field.Parent)));
                field.Parent?.Touch();
                return (WireTree.Write(root), $"{where} repeated {times} more times");
            }
            case 3:
            {
                siblings.Remove(field);
                field.Parent?.Touch();
                return (WireTree.Write(root), $"{where} deleted");
            }
            case 4 when siblings.Count > 1:
            {
                int a = siblings.IndexOf(field), b = random.Next(siblings.Count);
                (siblings[a], siblings[b]) = (siblings[b], siblings[a]);
                field.Parent?.Touch();
                return (WireTree.Write(root), $"{where} swapped with sibling {b}");
            }
            case 5 when field.WireType == WireField.LengthDelimited:
            {
                string text = HostileStrings[random.Next(HostileStrings.Length)];
                field.Payload = Encoding.UTF8.GetBytes(text);
                field.Children = null;
                field.Parent?.Touch();
                return (WireTree.Write(root), $"{where} set to \"{Shorten(text)}\"");
            }
            case 6:
            {
                // Graft a copy of another field (a node, a tensor, a function...) into a random message.
                var donor = all[random.Next(all.Count)];
                var hosts = all.Where(f => f.Children is not null).ToList();
                var host = hosts.Count > 0 && random.Next(3) > 0 ? hosts[random.Next(hosts.Count)] : null;
                var list = host?.Children ?? root;
                list.Insert(random.Next(list.Count + 1), donor.DeepCopy(host));
                host?.Touch();
                return (WireTree.Write(root), $"{Path(donor)} grafted into {(host is null ? "root" : Path(host))}");
            }
            case 7 when field.WireType == WireField.LengthDelimited && field.Children is null:
            {
                var payload = (byte[])field.Payload.Clone();
                if (payload.Length > 0)
                    for (int i = 0, n = 1 + random.Next(4); i < n; i++) payload[random.Next(payload.Length)] ^= (byte)(1 << random.Next(8));
                field.Payload = random.Next(3) == 0 ? payload[..random.Next(payload.Length + 1)] : payload;
                field.Parent?.Touch();
                return (WireTree.Write(root), $"payload of {where} damaged");
            }
            default:
            {
                // Change the field number or wire type: the field turns into another field of the same message.
                field.Number = random.Next(2) == 0 ? 1 + random.Next(20) : AbsurdField(random);
                field.Parent?.Touch();
                return (WireTree.Write(root), $"{where} renumbered to {field.Number}");
            }
        }
    }

    private static int AbsurdField(Random random) => new[] { 536_870_911, 19_000, 1000, 99 }[random.Next(4)];

    private static string Path(WireField field)
    {
        var parts = new List<int>();
        for (var f = field; f is not null; f = f.Parent) parts.Add(f.Number);
        parts.Reverse();
        return "field " + string.Join(".", parts);
    }

    private static string Shorten(string text) => (text.Length > 20 ? text[..20] + "..." : text).Replace("\0", "\\0");
}
