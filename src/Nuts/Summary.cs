using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Bnn.Onnx.Nuts;

/// <summary>
/// Column access to draws: each variable as a chains × draws matrix, so a summary can be computed from memory or
/// from a file one column at a time.
/// </summary>
public interface IDrawTable
{
    /// <summary>Variable names in column order (parameters, then <c>lp__</c> and the sampler columns, then generated quantities).</summary>
    IReadOnlyList<string> Variables { get; }

    int Chains { get; }

    /// <summary>Draws per chain (equal for all chains).</summary>
    int DrawsPerChain { get; }

    /// <summary>The draws of <paramref name="variable"/> as <c>[chain][draw]</c>.</summary>
    double[][] Column(string variable);
}

/// <summary>One row of a posterior summary (the columns of <c>summary.csv</c>, in order).</summary>
public sealed record SummaryRow(
    string Variable,
    double Mean,
    double Sd,
    double Median,
    double Q5,
    double Q95,
    double McseMean,
    double McseSd,
    double EssBulk,
    double EssTail,
    double Rhat)
{
    public static readonly IReadOnlyList<string> ColumnNames =
        ["variable", "mean", "sd", "median", "q5", "q95", "mcse_mean", "mcse_sd", "ess_bulk", "ess_tail", "rhat"];
}

/// <summary>Posterior summaries (posterior's <c>summarise_draws</c> with the columns we report).</summary>
public static class PosteriorSummary
{
    /// <summary>Summarises one variable's <c>[chain][draw]</c> draws.</summary>
    public static SummaryRow Summarize(string variable, double[][] draws)
    {
        if (draws.Length == 0 || draws[0].Length == 0)
            return new SummaryRow(variable, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN,
                double.NaN, double.NaN, double.NaN, double.NaN);
        var sorted = ConvergenceDiagnostics.Pool(draws);
        double mean = ConvergenceDiagnostics.Mean(sorted);
        double sd = ConvergenceDiagnostics.StandardDeviation(sorted);
        Array.Sort(sorted);
        bool finite = !ConvergenceDiagnostics.ShouldReturnNaN(draws);
        return new SummaryRow(variable, mean, sd,
            ConvergenceDiagnostics.QuantileSorted(sorted, 0.5), ConvergenceDiagnostics.QuantileSorted(sorted, 0.05), ConvergenceDiagnostics.QuantileSorted(sorted, 0.95),
            finite ? ConvergenceDiagnostics.McseMean(draws) : double.NaN,
            finite ? ConvergenceDiagnostics.McseSd(draws) : double.NaN,
            ConvergenceDiagnostics.EssBulk(draws), ConvergenceDiagnostics.EssTail(draws), ConvergenceDiagnostics.Rhat(draws));
    }

    /// <summary>
    /// Summarises the table's variables (all but the sampler's <c>__</c> columns other than <c>lp__</c>, unless
    /// <paramref name="include"/> says otherwise), column by column, in table order.
    /// </summary>
    public static IReadOnlyList<SummaryRow> Summarize(IDrawTable table, Func<string, bool>? include = null)
    {
        include ??= v => v == "lp__" || !v.EndsWith("__", StringComparison.Ordinal);
        return table.Variables.Where(include).Select(v => Summarize(v, table.Column(v))).ToArray();
    }

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

/// <summary>Stan's warning texts (rstan's <c>check_hmc_diagnostics</c> and <c>monitor</c> wording).</summary>
public static class StanWarnings
{
    /// <summary>E-BFMI below this is flagged (Stan: 0.3).</summary>
    public const double EbfmiThreshold = 0.3;

    /// <summary>R-hat above this is flagged (Vehtari et al. 2021: 1.01).</summary>
    public const double RhatThreshold = 1.01;

    /// <summary>ESS below this many per chain is flagged (rstan: 100 per chain, 400 for 4 chains).</summary>
    public const double EssPerChainThreshold = 100;

    /// <summary>Warnings about the sampler's behaviour after warmup.</summary>
    public static IReadOnlyList<string> Sampler(int divergences, int treeDepthSaturations, int maxTreeDepth, IReadOnlyList<double> ebfmiPerChain)
    {
        var list = new List<string>();
        if (divergences > 0)
            list.Add($"There {(divergences == 1 ? "was" : "were")} {divergences} divergent transition{(divergences == 1 ? "" : "s")} after warmup. " +
                "See https://mc-stan.org/misc/warnings.html#divergent-transitions-after-warmup to find out why this is a problem and how to eliminate them.");
        if (treeDepthSaturations > 0)
            list.Add($"There {(treeDepthSaturations == 1 ? "was" : "were")} {treeDepthSaturations} transition{(treeDepthSaturations == 1 ? "" : "s")} after warmup that exceeded the maximum treedepth. " +
                $"Increase max_treedepth above {maxTreeDepth}. See https://mc-stan.org/misc/warnings.html#maximum-treedepth-exceeded");
        int lowBfmi = ebfmiPerChain.Count(e => e < EbfmiThreshold);
        if (lowBfmi > 0)
            list.Add($"There {(lowBfmi == 1 ? "was" : "were")} {lowBfmi} chain{(lowBfmi == 1 ? "" : "s")} where the estimated Bayesian Fraction of Missing Information was low. " +
                "See https://mc-stan.org/misc/warnings.html#bfmi-low");
        return list;
    }

    /// <summary>Warnings about convergence from summary rows (R-hat, bulk- and tail-ESS).</summary>
    public static IReadOnlyList<string> Convergence(IEnumerable<SummaryRow> rows, int chains)
    {
        var list = new List<string>();
        var rowList = rows.ToList();
        double essThreshold = EssPerChainThreshold * chains;
        double maxRhat = rowList.Select(r => r.Rhat).Where(double.IsFinite).DefaultIfEmpty(double.NaN).Max();
        if (maxRhat > RhatThreshold || rowList.Any(r => double.IsNaN(r.Rhat) && !double.IsNaN(r.Sd) && r.Sd > 0))
            list.Add($"The largest R-hat is {Round(maxRhat)}, indicating chains have not mixed. Running the chains for more iterations may help. See https://mc-stan.org/misc/warnings.html#r-hat");
        if (rowList.Any(r => r.EssBulk < essThreshold))
            list.Add("Bulk Effective Samples Size (ESS) is too low, indicating posterior means and medians may be unreliable. Running the chains for more iterations may help. See https://mc-stan.org/misc/warnings.html#bulk-ess");
        if (rowList.Any(r => r.EssTail < essThreshold))
            list.Add("Tail Effective Samples Size (ESS) is too low, indicating posterior variances and tail quantiles may be unreliable. Running the chains for more iterations may help. See https://mc-stan.org/misc/warnings.html#tail-ess");
        return list;
    }

    private static string Round(double v) => double.IsFinite(v) ? Math.Round(v, 2).ToString(CultureInfo.InvariantCulture) : "NA";
}

/// <summary>A convergence verdict and the reason for it.</summary>
/// <param name="WorstRhat">The largest R-hat among the deciding rows.</param>
/// <param name="WorstEssBulk">The smallest bulk-ESS among the deciding rows.</param>
/// <param name="WorstEssTail">The smallest tail-ESS among the deciding rows.</param>
public sealed record ConvergenceVerdict(bool Converged, string Reason, double WorstRhat, double WorstEssBulk, double WorstEssTail, string? WorstVariable);

/// <summary>
/// Judges convergence in function space: a network's weights are not identifiable (hidden units permute and flip
/// sign), so per-weight R-hat says little. The verdict rests on <c>lp__</c> and on the posterior predictive means
/// at a set of inputs; per-weight rows are reported but do not decide.
/// </summary>
public static class FunctionSpaceVerdict
{
    public static ConvergenceVerdict Evaluate(SummaryRow logDensity, IEnumerable<SummaryRow> predictive, int chains,
        double rhatThreshold = StanWarnings.RhatThreshold, double essPerChainThreshold = StanWarnings.EssPerChainThreshold)
    {
        var rows = new List<SummaryRow> { logDensity };
        rows.AddRange(predictive);
        double essThreshold = essPerChainThreshold * chains;
        double worstRhat = rows.Select(r => r.Rhat).Where(double.IsFinite).DefaultIfEmpty(double.NaN).Max();
        double worstBulk = rows.Select(r => r.EssBulk).Where(double.IsFinite).DefaultIfEmpty(double.NaN).Min();
        double worstTail = rows.Select(r => r.EssTail).Where(double.IsFinite).DefaultIfEmpty(double.NaN).Min();
        int predictiveCount = rows.Count - 1;
        string scope = $"lp__ and {predictiveCount} predictive mean{(predictiveCount == 1 ? "" : "s")}";
        static string F(double v) => v.ToString("G4", CultureInfo.InvariantCulture);

        // A constant predictive (e.g. a saturated output) has no R-hat; only lp__ must be finite.
        if (!double.IsFinite(logDensity.Rhat) || !double.IsFinite(logDensity.EssBulk))
            return new ConvergenceVerdict(false, "lp__ has no finite R-hat or ESS (non-finite or constant draws)", worstRhat, worstBulk, worstTail, "lp__");
        var badRhat = rows.Where(r => r.Rhat > rhatThreshold).MaxBy(r => r.Rhat);
        if (badRhat is not null)
            return new ConvergenceVerdict(false, $"R-hat {F(badRhat.Rhat)} of {badRhat.Variable} exceeds {F(rhatThreshold)}", worstRhat, worstBulk, worstTail, badRhat.Variable);
        var badBulk = rows.Where(r => r.EssBulk < essThreshold).MinBy(r => r.EssBulk);
        if (badBulk is not null)
            return new ConvergenceVerdict(false, $"bulk-ESS {F(badBulk.EssBulk)} of {badBulk.Variable} is below {F(essThreshold)}", worstRhat, worstBulk, worstTail, badBulk.Variable);
        var badTail = rows.Where(r => r.EssTail < essThreshold).MinBy(r => r.EssTail);
        if (badTail is not null)
            return new ConvergenceVerdict(false, $"tail-ESS {F(badTail.EssTail)} of {badTail.Variable} is below {F(essThreshold)}", worstRhat, worstBulk, worstTail, badTail.Variable);
        return new ConvergenceVerdict(true,
            $"{scope}: max R-hat {F(worstRhat)} ≤ {F(rhatThreshold)}, min bulk-ESS {F(worstBulk)} and min tail-ESS {F(worstTail)} ≥ {F(essThreshold)}",
            worstRhat, worstBulk, worstTail, null);
    }
}
