using System.Globalization;
using Bnn.Onnx.Export;
using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Cli.Plotting;

/// <summary>
/// A run directory opened for plotting: <c>draws.parquet</c> (required), the run record (<see cref="RunRecord.Load"/>) and, when present,
/// <c>summary.csv</c>. The draws are streamed (<see cref="ParquetDrawStreamReader"/>): only the columns a plot asks
/// for are read and kept, never the whole file.
/// </summary>
internal sealed class RunDirectory
{
    private readonly Dictionary<string, double[][]> _columns = new(StringComparer.Ordinal);

    private RunDirectory(string path, ParquetDrawStreamReader draws, RunRecord? record, IReadOnlyDictionary<string, SummaryRow>? summary)
    {
        Path = path;
        Draws = draws;
        Record = record;
        Summary = summary;
        ChainsWithDraws = Enumerable.Range(0, draws.Chains).Where(c => draws.DrawCounts[c] > 0).ToArray();
    }

    public string Path { get; }

    /// <summary>The draws file: footer, layout, chain and draw counts; columns are read on demand.</summary>
    public ParquetDrawStreamReader Draws { get; }

    /// <summary>The run's record, or null when the draws file has none and there is no <c>run.json</c>.</summary>
    public RunRecord? Record { get; }

    /// <summary>Rows of <c>summary.csv</c> by variable, or null when the file is absent.</summary>
    public IReadOnlyDictionary<string, SummaryRow>? Summary { get; }

    /// <summary>Parameter scalar names (<c>0.weight[3,0]</c>, …, <c>sigma</c>) in draws order.</summary>
    public IReadOnlyList<string> ParameterNames => Draws.Layout.ScalarNames();

    /// <summary>Chains that hold at least one draw.</summary>
    public IReadOnlyList<int> ChainsWithDraws { get; }

    /// <summary>Columns read from the draws file so far (a column read twice counts twice).</summary>
    public int ColumnsRead { get; private set; }

    public static RunDirectory Open(string path)
    {
        if (File.Exists(path) && path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase))
            throw new UsageException($"{path}: give the run directory that holds it, not the draws file");
        if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"run directory not found: {path}");
        string drawsPath = System.IO.Path.Combine(path, DrawsSchema.FileName);
        if (!File.Exists(drawsPath)) throw new FileNotFoundException($"no draws.parquet in run directory {path}", drawsPath);
        var draws = ParquetDrawStreamReader.Open(drawsPath);
        if (draws.TotalDraws == 0) throw new InvalidDataException($"{drawsPath}: holds no draws");
        var record = RunRecord.Load(path, draws.RunJson);
        string summaryPath = System.IO.Path.Combine(path, "summary.csv");
        var summary = File.Exists(summaryPath) ? ReadSummary(summaryPath) : null;
        return new RunDirectory(path, draws, record, summary);
    }

    /// <summary>Reads the named columns not yet kept, all in one pass over the draws file, and keeps them.</summary>
    public void Prefetch(IEnumerable<string> names)
    {
        var missing = names.Distinct().Where(n => !_columns.ContainsKey(n)).ToArray();
        if (missing.Length == 0) return;
        var read = ReadColumns(missing);
        for (int k = 0; k < missing.Length; k++) _columns[missing[k]] = read[k];
    }

    /// <summary>The column's draws with empty chains left out, as [chain][draw] (read and kept on first use).</summary>
    public double[][] Column(string name)
    {
        Prefetch([name]);
        return _columns[name];
    }

    /// <summary>R-hat and bulk/tail ESS of a variable: from <c>summary.csv</c> when it lists it, else recomputed.</summary>
    public (double Rhat, double EssBulk, double EssTail) Diagnose(string name)
    {
        if (Summary is not null && Summary.TryGetValue(name, out var row)) return (row.Rhat, row.EssBulk, row.EssTail);
        return Recompute(Column(name));
    }

    /// <summary>
    /// <see cref="Diagnose"/> of each of <paramref name="names"/>, in that order. Variables <c>summary.csv</c> does not
    /// list are recomputed from columns read in batches of at most <paramref name="memoryBudgetBytes"/> (at least one
    /// column a batch), one pass a batch; a batch is let go before the next, and no column is kept.
    /// </summary>
    public (double Rhat, double EssBulk, double EssTail)[] DiagnoseAll(IReadOnlyList<string> names, long memoryBudgetBytes)
    {
        var result = new (double Rhat, double EssBulk, double EssTail)[names.Count];
        var missing = new List<int>();
        for (int i = 0; i < names.Count; i++)
        {
            if (Summary is not null && Summary.TryGetValue(names[i], out var row)) result[i] = (row.Rhat, row.EssBulk, row.EssTail);
            else if (_columns.TryGetValue(names[i], out var kept)) result[i] = Recompute(kept);
            else missing.Add(i);
        }
        long columnBytes = Math.Max(1, (long)sizeof(double) * Draws.TotalDraws);
        int batch = (int)Math.Clamp(memoryBudgetBytes / columnBytes, 1, int.MaxValue);
        foreach (var indices in missing.Chunk(batch))
        {
            var columns = ReadColumns(indices.Select(i => names[i]).ToArray());
            for (int k = 0; k < indices.Length; k++) result[indices[k]] = Recompute(columns[k]);
        }
        return result;
    }

    /// <summary>One pass over the draws file for <paramref name="names"/>, with empty chains left out.</summary>
    private double[][][] ReadColumns(IReadOnlyList<string> names)
    {
        var read = Draws.ReadColumns(names);
        ColumnsRead += names.Count;
        return read.Select(column => ChainsWithDraws.Select(c => column[c]).ToArray()).ToArray();
    }

    /// <summary>posterior's rank-normalised split R-hat and ESS over chains cut to a common length.</summary>
    public static (double Rhat, double EssBulk, double EssTail) Recompute(double[][] chains)
    {
        int n = chains.Length == 0 ? 0 : chains.Min(c => c.Length);
        if (n < 4) return (double.NaN, double.NaN, double.NaN);
        var equal = chains.Select(c => c[..n]).ToArray();
        return (ConvergenceDiagnostics.Rhat(equal), ConvergenceDiagnostics.EssBulk(equal), ConvergenceDiagnostics.EssTail(equal));
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
