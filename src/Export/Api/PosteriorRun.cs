using System.Globalization;
using Bnn.Onnx.Export;
using Bnn.Onnx.Nuts;
using Bnn.Onnx.OnnxImport;
using Bnn.Onnx.Pipeline;

namespace Bnn.Onnx;

/// <summary>
/// One row of the posterior summary, as in <c>summary.csv</c>: Vehtari et al. (2021) diagnostics as the R package
/// posterior 1.4.0 computes them. NaN where a statistic is undefined (too few draws).
/// </summary>
/// <param name="Variable">A parameter scalar (<c>0.weight[3,0]</c>), <c>sigma</c>, <c>lp__</c>, or a predictive mean <c>mu[i]</c>.</param>
/// <param name="Mean">Posterior mean.</param>
/// <param name="Sd">Posterior standard deviation.</param>
/// <param name="Median">Posterior median.</param>
/// <param name="Q5">5% quantile.</param>
/// <param name="Q95">95% quantile.</param>
/// <param name="McseMean">Monte Carlo standard error of the mean.</param>
/// <param name="McseSd">Monte Carlo standard error of the standard deviation.</param>
/// <param name="EssBulk">Bulk effective sample size.</param>
/// <param name="EssTail">Tail effective sample size.</param>
/// <param name="Rhat">Rank-normalized split R-hat.</param>
public sealed record VariableSummary(string Variable, double Mean, double Sd, double Median, double Q5, double Q95, double McseMean,
    double McseSd, double EssBulk, double EssTail, double Rhat);

/// <summary>
/// Whether a run can be trusted. The verdict rests on <c>lp__</c> and the posterior predictive means at the training
/// inputs (<c>mu[i]</c>), not on single weights (which a network does not identify).
/// </summary>
/// <param name="Converged">R-hat ≤ 1.01 and bulk- and tail-ESS ≥ 100 per chain over <c>lp__</c> and the predictive means.</param>
/// <param name="Verdict">The reason for the verdict, in one line.</param>
/// <param name="MaxRhat">The largest R-hat among the deciding rows.</param>
/// <param name="MinEssBulk">The smallest bulk-ESS among the deciding rows.</param>
/// <param name="MinEssTail">The smallest tail-ESS among the deciding rows.</param>
/// <param name="Divergences">Divergent transitions after warmup.</param>
/// <param name="TreeDepthSaturations">Transitions after warmup that hit the maximum tree depth.</param>
/// <param name="SamplingFailed">Nearly every transition (≥ 90%) diverged: the draws do not describe the posterior.</param>
/// <param name="Warnings">Stan's sampler and convergence warnings, word for word.</param>
public sealed record RunDiagnostics(bool Converged, string Verdict, double MaxRhat, double MinEssBulk, double MinEssTail, long Divergences,
    long TreeDepthSaturations, bool SamplingFailed, IReadOnlyList<string> Warnings);

/// <summary>
/// A sampled posterior: a run directory written by <see cref="BnnModel.Sample"/> or <c>bnn sample</c>
/// (<c>draws.parquet</c>, <c>summary.csv</c>, <c>run.json</c>). The summary and diagnostics are read when the run is
/// opened; the draws are read from the file when asked for.
/// </summary>
public sealed class PosteriorRun
{
    private readonly RunRecord _record;
    private readonly bool _interrupted;

    private PosteriorRun(string directory, RunRecord record, bool interrupted, IReadOnlyList<VariableSummary> summary, RunDiagnostics diagnostics, PosteriorDraws draws)
    {
        Directory = directory;
        _record = record;
        _interrupted = interrupted;
        Summary = summary;
        Diagnostics = diagnostics;
        Draws = draws;
    }

    /// <summary>
    /// Opens a run directory. Throws <see cref="DirectoryNotFoundException"/> or <see cref="FileNotFoundException"/>
    /// when it is not a run, <see cref="InvalidDataException"/> when its files are malformed.
    /// </summary>
    /// <param name="runDirectory">The folder holding <c>draws.parquet</c>, <c>summary.csv</c> and <c>run.json</c>.</param>
    public static PosteriorRun Open(string runDirectory)
    {
        ArgumentNullException.ThrowIfNull(runDirectory);
        if (!System.IO.Directory.Exists(runDirectory)) throw new DirectoryNotFoundException($"run directory not found: {runDirectory}");
        string drawsPath = Path.Combine(runDirectory, SampleRun.DrawsFile);
        if (!File.Exists(drawsPath)) throw new FileNotFoundException($"{runDirectory}: no {SampleRun.DrawsFile}", drawsPath);
        var reader = ParquetDrawStreamReader.Open(drawsPath);
        // run.json is written with summary.csv and holds the results (divergences, per-chain statistics); the draws'
        // own copy holds the settings only.
        string runJson = Path.Combine(runDirectory, RunRecord.FileName);
        var record = (File.Exists(runJson) ? RunRecord.Parse(File.ReadAllText(runJson), runJson) : RunRecord.Load(runDirectory, reader.RunJson))
            ?? throw new InvalidDataException($"{runDirectory}: no run record (neither {RunRecord.FileName} nor the draws' {DrawsSchema.RunKey} metadata)");
        string summaryPath = Path.Combine(runDirectory, SampleRun.SummaryFile);
        if (!File.Exists(summaryPath)) throw new FileNotFoundException($"{runDirectory}: no {SampleRun.SummaryFile}", summaryPath);
        var rows = ReadSummary(summaryPath);
        return new PosteriorRun(Path.GetFullPath(runDirectory), record, reader.Interrupted, rows.Select(Public).ToArray(), Diagnose(record, rows, reader.Chains),
            new PosteriorDraws(reader));
    }

    /// <summary>The run directory (full path).</summary>
    public string Directory { get; }

    /// <summary>The run's seed.</summary>
    public ulong Seed => _record.Seed;

    /// <summary>Whether sampling was stopped early (cancelled); the draws then hold what was sampled.</summary>
    public bool Interrupted => _interrupted;

    /// <summary>The rows of <c>summary.csv</c>: every parameter scalar, then <c>lp__</c>, then the predictive means <c>mu[i]</c>.</summary>
    public IReadOnlyList<VariableSummary> Summary { get; }

    /// <summary>The posterior draws, read from <c>draws.parquet</c> a column at a time.</summary>
    public PosteriorDraws Draws { get; }

    /// <summary>The convergence verdict, Stan's warnings and the divergence counts.</summary>
    public RunDiagnostics Diagnostics { get; }

    /// <summary>Shorthand for <see cref="RunDiagnostics.Converged"/>.</summary>
    public bool Converged => Diagnostics.Converged;

    /// <summary>
    /// Writes the ensemble ONNX file (as <c>bnn export</c>): <paramref name="members"/> draws, thinned evenly in
    /// (chain, draw) order (all of them when the run has fewer), in one graph that ONNX Runtime runs in one call.
    /// The model file the run recorded must still be there, unchanged (its SHA-256 is checked).
    /// </summary>
    /// <param name="path">The ensemble file; null: <c>ensemble.onnx</c> in the run directory.</param>
    /// <param name="members">Members S [100].</param>
    /// <returns>The path written (full path).</returns>
    public string ExportEnsemble(string? path = null, int members = 100)
    {
        if (members < 1) throw new ArgumentOutOfRangeException(nameof(members), members, "an ensemble needs at least one member");
        var written = EnsembleExport.Write(Directory, modelPath: null, members, path, membersDir: null, ElementType.Float);
        return Path.GetFullPath(written.Path);
    }

    private static VariableSummary Public(SummaryRow r) =>
        new(r.Variable, r.Mean, r.Sd, r.Median, r.Q5, r.Q95, r.McseMean, r.McseSd, r.EssBulk, r.EssTail, r.Rhat);

    /// <summary>The verdict and warnings from the summary rows and the run record, as <c>bnn sample</c> computed them.</summary>
    private static RunDiagnostics Diagnose(RunRecord record, IReadOnlyList<SummaryRow> rows, int chains)
    {
        var chainRecords = record.Chains ?? [];
        long divergences = record.Divergences ?? chainRecords.Sum(c => c.Divergences);
        long saturations = record.TreedepthSaturations ?? chainRecords.Sum(c => c.TreedepthSaturations);
        long draws = chainRecords.Sum(c => (long)c.Draws);
        var warnings = StanWarnings.Sampler(checked((int)divergences), checked((int)saturations), record.Settings.MaxDepth,
            chainRecords.Select(c => c.EBfmi ?? double.NaN).ToArray()).ToList();

        var lp = rows.FirstOrDefault(r => r.Variable == "lp__");
        var predictive = rows.Where(r => SampleRun.IsPredictive(r.Variable)).ToList();
        IEnumerable<SummaryRow> deciding = lp is null ? rows : predictive.Prepend(lp);
        warnings.AddRange(StanWarnings.Convergence(deciding, chains));
        var verdict = lp is not null && predictive.Count > 0 ? FunctionSpaceVerdict.Evaluate(lp, predictive, chains) : null;
        var decidingList = deciding.ToList();
        return new RunDiagnostics(
            verdict?.Converged ?? false,
            verdict?.Reason ?? "no predictive means in the summary: no verdict",
            verdict?.WorstRhat ?? decidingList.Select(r => r.Rhat).DefaultIfEmpty(double.NaN).Max(),
            verdict?.WorstEssBulk ?? decidingList.Select(r => r.EssBulk).DefaultIfEmpty(double.NaN).Min(),
            verdict?.WorstEssTail ?? decidingList.Select(r => r.EssTail).DefaultIfEmpty(double.NaN).Min(),
            divergences, saturations,
            draws > 0 && divergences >= SamplingResult.FailedDivergenceShare * draws,
            warnings);
    }

    /// <summary>Reads <c>summary.csv</c> (header <see cref="SummaryRow.ColumnNames"/>, round-trip numbers, <c>NA</c> for NaN).</summary>
    private static List<SummaryRow> ReadSummary(string path)
    {
        var rows = new List<SummaryRow>();
        using var reader = new StreamReader(path);
        string header = reader.ReadLine() ?? "";
        if (header != string.Join(',', SummaryRow.ColumnNames))
            throw new InvalidDataException($"{path}: not a bnn summary (header '{header}')");
        string? line;
        int number = 1;
        while ((line = reader.ReadLine()) is not null)
        {
            number++;
            if (line.Length == 0) continue;
            var cells = DrawCsvReader.SplitCsvLine(line);
            if (cells.Length != SummaryRow.ColumnNames.Count) throw new InvalidDataException($"{path}:{number}: {cells.Length} cells, expected {SummaryRow.ColumnNames.Count}");
            double V(int i) => cells[i] == "NA" ? double.NaN
                : double.TryParse(cells[i], NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v
                : throw new InvalidDataException($"{path}:{number}: '{cells[i]}' is not a number");
            rows.Add(new SummaryRow(cells[0], V(1), V(2), V(3), V(4), V(5), V(6), V(7), V(8), V(9), V(10)));
        }
        return rows;
    }
}
