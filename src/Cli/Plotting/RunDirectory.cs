using System.Globalization;
using Bnn.Onnx.Export;
using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Cli.Plotting;

/// <summary>
/// A run directory opened for plotting: <c>draws.parquet</c> (required), the run record and, when present,
/// <c>summary.csv</c>.
/// </summary>
public sealed class RunDirectory
{
    private RunDirectory(string path, DrawsTable draws, RunRecord record, IReadOnlyDictionary<string, SummaryRow>? summary)
    {
        Path = path;
        Draws = draws;
        Record = record;
        Summary = summary;
    }

    public string Path { get; }
    public DrawsTable Draws { get; }
    public RunRecord Record { get; }

    /// <summary>Rows of <c>summary.csv</c> by variable, or null when the file is absent.</summary>
    public IReadOnlyDictionary<string, SummaryRow>? Summary { get; }

    /// <summary>Parameter scalar names (<c>0.weight[3,0]</c>, …, <c>sigma</c>) in draws order.</summary>
    public IReadOnlyList<string> ParameterNames => Draws.Layout.ScalarNames();

    /// <summary>Chains that hold at least one draw.</summary>
    public IReadOnlyList<int> ChainsWithDraws => Enumerable.Range(0, Draws.Chains).Where(c => Draws.DrawCounts[c] > 0).ToArray();

    public static RunDirectory Open(string path)
    {
        if (File.Exists(path) && path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase))
            throw new UsageException($"{path}: give the run directory that holds it, not the draws file");
        if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"run directory not found: {path}");
        string drawsPath = System.IO.Path.Combine(path, "draws.parquet");
        if (!File.Exists(drawsPath)) throw new FileNotFoundException($"no draws.parquet in run directory {path}", drawsPath);
        var draws = ParquetDrawReader.Read(drawsPath);
        if (draws.TotalDraws == 0) throw new InvalidDataException($"{drawsPath}: holds no draws");
        var record = RunRecord.Load(path, draws.RunJson);
        string summaryPath = System.IO.Path.Combine(path, "summary.csv");
        var summary = File.Exists(summaryPath) ? ReadSummary(summaryPath) : null;
        return new RunDirectory(path, draws, record, summary);
    }

    /// <summary>The column's draws with empty chains left out, as [chain][draw].</summary>
    public double[][] Column(string name) => ChainsWithDraws.Select(c => Draws.Column(name)[c]).ToArray();

    /// <summary>R-hat and bulk/tail ESS of a variable: from <c>summary.csv</c> when it lists it, else recomputed.</summary>
    public (double Rhat, double EssBulk, double EssTail) Diagnose(string name)
    {
        if (Summary is not null && Summary.TryGetValue(name, out var row)) return (row.Rhat, row.EssBulk, row.EssTail);
        return Recompute(Column(name));
    }

    /// <summary>posterior's rank-normalised split R-hat and ESS over chains cut to a common length.</summary>
    public static (double Rhat, double EssBulk, double EssTail) Recompute(double[][] chains)
    {
        int n = chains.Length == 0 ? 0 : chains.Min(c => c.Length);
        if (n < 4) return (double.NaN, double.NaN, double.NaN);
        var equal = chains.Select(c => c[..n]).ToArray();
        return (Diagnostics.Rhat(equal), Diagnostics.EssBulk(equal), Diagnostics.EssTail(equal));
    }

    /// <summary>Reads <c>summary.csv</c> (the variable may be quoted: <c>"0.weight[3,0]"</c>; <c>NA</c> is NaN).</summary>
    public static IReadOnlyDictionary<string, SummaryRow> ReadSummary(string path)
    {
        string name = System.IO.Path.GetFileName(path);
        var lines = File.ReadAllLines(path).Where(l => l.Trim().Length > 0).ToList();
        if (lines.Count == 0) throw new InvalidDataException($"{name}: empty");
        var header = lines[0].Split(',').Select(h => h.Trim()).ToArray();
        var expected = SummaryRow.ColumnNames;
        var index = expected.Select(c => Array.IndexOf(header, c)).ToArray();
        if (index.Any(i => i < 0))
            throw new InvalidDataException($"{name}: expected columns {string.Join(",", expected)}, got {lines[0]}");

        var rows = new Dictionary<string, SummaryRow>(StringComparer.Ordinal);
        for (int r = 1; r < lines.Count; r++)
        {
            var cells = DrawCsvReader.SplitCsvLine(lines[r]);
            if (cells.Length != header.Length)
                throw new InvalidDataException($"{name}: row {r} has {cells.Length} cells but the header has {header.Length}");
            double V(int column)
            {
                string cell = cells[index[column]].Trim();
                if (cell is "NA" or "NaN" or "") return double.NaN;
                return double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v
                    : throw new InvalidDataException($"{name}: row {r}, column '{expected[column]}': '{cell}' is not a number");
            }
            var row = new SummaryRow(cells[index[0]], V(1), V(2), V(3), V(4), V(5), V(6), V(7), V(8), V(9), V(10));
            rows[row.Variable] = row;
        }
        return rows;
    }
}
