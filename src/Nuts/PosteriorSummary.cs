namespace Bnn.Onnx.Nuts;

/// <summary>Posterior summaries (posterior's <c>summarise_draws</c> with the columns we report).</summary>
internal static class PosteriorSummary
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
}
