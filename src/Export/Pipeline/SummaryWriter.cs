using System.Globalization;
using System.Text;
using System.Text.Json;
using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Pipeline;

/// <summary>
/// Summary rows as the CLI shows and saves them: <c>summary.csv</c> (round-trip precision), a JSON array and a
/// fixed-width terminal table. Columns and their order are <see cref="SummaryRow.ColumnNames"/>.
/// </summary>
internal static class SummaryWriter
{
    /// <summary>Writes rows as <c>summary.csv</c> (header, round-trip precision, invariant culture).</summary>
    public static void WriteCsv(TextWriter writer, IEnumerable<SummaryRow> rows)
    {
        writer.WriteLine(string.Join(',', SummaryRow.ColumnNames));
        foreach (var r in rows)
        {
            writer.Write(Quote(r.Variable));
            foreach (double v in Values(r))
            {
                writer.Write(',');
                writer.Write(Format(v));
            }
            writer.WriteLine();
        }
    }

    /// <summary>Writes rows as a JSON array of objects keyed by the column names (NaN as null).</summary>
    public static void WriteJson(Stream stream, IEnumerable<SummaryRow> rows)
    {
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        WriteJson(json, rows);
    }

    /// <summary>Writes rows as a JSON array into an open writer.</summary>
    public static void WriteJson(Utf8JsonWriter json, IEnumerable<SummaryRow> rows)
    {
        json.WriteStartArray();
        foreach (var r in rows)
        {
            json.WriteStartObject();
            json.WriteString("variable", r.Variable);
            var values = Values(r);
            for (int i = 0; i < values.Length; i++)
            {
                if (double.IsFinite(values[i])) json.WriteNumber(SummaryRow.ColumnNames[i + 1], values[i]);
                else json.WriteNull(SummaryRow.ColumnNames[i + 1]);
            }
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    /// <summary>A fixed-width text table (4 significant digits; ESS as integers) for terminals.</summary>
    public static string FormatTable(IEnumerable<SummaryRow> rows)
    {
        var list = rows.ToList();
        var cells = new List<string[]> { SummaryRow.ColumnNames.ToArray() };
        foreach (var r in list)
        {
            cells.Add([r.Variable, G(r.Mean), G(r.Sd), G(r.Median), G(r.Q5), G(r.Q95), G(r.McseMean), G(r.McseSd),
                Ess(r.EssBulk), Ess(r.EssTail), R(r.Rhat)]);
        }
        var widths = Enumerable.Range(0, SummaryRow.ColumnNames.Count).Select(i => cells.Max(c => c[i].Length)).ToArray();
        var sb = new StringBuilder();
        foreach (var row in cells)
        {
            for (int i = 0; i < row.Length; i++)
            {
                if (i > 0) sb.Append("  ");
                sb.Append(i == 0 ? row[i].PadRight(widths[i]) : row[i].PadLeft(widths[i]));
            }
            sb.AppendLine();
        }
        return sb.ToString();

        static string G(double v) => double.IsFinite(v) ? v.ToString("G4", CultureInfo.InvariantCulture) : "NA";
        static string Ess(double v) => double.IsFinite(v) ? Math.Round(v).ToString("F0", CultureInfo.InvariantCulture) : "NA";
        static string R(double v) => double.IsFinite(v) ? v.ToString("F3", CultureInfo.InvariantCulture) : "NA";
    }

    private static double[] Values(SummaryRow r) =>
        [r.Mean, r.Sd, r.Median, r.Q5, r.Q95, r.McseMean, r.McseSd, r.EssBulk, r.EssTail, r.Rhat];

    private static string Format(double v) =>
        double.IsNaN(v) ? "NA" : v.ToString("R", CultureInfo.InvariantCulture);

    private static string Quote(string s) =>
        s.IndexOfAny([',', '"', '\n']) >= 0 ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;
}
