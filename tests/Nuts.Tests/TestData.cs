using System.Globalization;
using System.Text.Json;

namespace Bnn.Onnx.Tests;

/// <summary>Files of the shared reference folder (<see cref="SharedFolder"/>).</summary>
internal static class TestData
{
    /// <summary>The path of a shared reference file, or null when it is absent (the test carries <see cref="SharedFactAttribute"/>).</summary>
    public static string? Shared(string relative) => SharedFolder.File(relative);

    public static JsonElement Json(string path) => JsonDocument.Parse(File.ReadAllText(path)).RootElement;

    /// <summary>
    /// Reads a long draws CSV (<c>chain,iteration,v1,…</c>; chains 1…m, iterations 1…n; <c>NA</c> as NaN) as
    /// <c>[variable][chain][draw]</c>.
    /// </summary>
    public static (string[] Variables, double[][][] Draws) ReadLongDraws(string path)
    {
        var lines = File.ReadAllLines(path);
        var header = lines[0].Split(',');
        if (header[0] != "chain" || header[1] != "iteration") throw new InvalidDataException($"{path}: expected chain,iteration,…");
        var variables = header[2..];
        var rows = lines.Skip(1).Select(l => l.Split(',').Select(ParseR).ToArray()).ToArray();
        int chains = (int)rows.Max(r => r[0]);
        int draws = rows.Length / chains;
        var result = variables.Select(_ => Enumerable.Range(0, chains).Select(_ => new double[draws]).ToArray()).ToArray();
        foreach (var r in rows)
            for (int v = 0; v < variables.Length; v++)
                result[v][(int)r[0] - 1][(int)r[1] - 1] = r[v + 2];
        return (variables, result);
    }

    /// <summary>A number as R writes it: <c>NA</c> is NaN.</summary>
    public static double ParseR(string s) => s == "NA" ? double.NaN : double.Parse(s, CultureInfo.InvariantCulture);
}
