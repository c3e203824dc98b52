using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Pipeline;

/// <summary>
/// Everything <c>bnn summary</c> and <c>bnn sample</c> print about a set of draws: the summary rows, Stan's sampler
/// and convergence warnings, and the function-space verdict when predictive quantities are present.
/// </summary>
/// <param name="Rows">Parameters, then <c>lp__</c>, then generated quantities, in table order.</param>
/// <param name="Verdict">Null when the table has no predictive columns.</param>
internal sealed record DrawsReport(
    IReadOnlyList<SummaryRow> Rows,
    IReadOnlyList<string> SamplerWarnings,
    IReadOnlyList<string> ConvergenceWarnings,
    ConvergenceVerdict? Verdict,
    int Chains,
    int DrawsPerChain)
{
    /// <summary>
    /// Builds the report from a draw table. Sampler warnings come from the <c>divergent__</c>, <c>treedepth__</c> and
    /// <c>energy__</c> columns when present. Convergence warnings and the verdict are computed over <c>lp__</c> and the
    /// predictive columns (<paramref name="isPredictive"/>) when there are any, over every row otherwise.
    /// </summary>
    public static DrawsReport Build(IDrawTable table, int maxTreeDepth = 10, Func<string, bool>? isPredictive = null)
    {
        var rows = PosteriorSummary.Summarize(table);
        var present = new HashSet<string>(table.Variables, StringComparer.Ordinal);

        int divergences = present.Contains("divergent__") ? (int)table.Column("divergent__").Sum(c => c.Sum()) : 0;
        int saturations = present.Contains("treedepth__") ? table.Column("treedepth__").Sum(c => c.Count(v => v >= maxTreeDepth)) : 0;
        var ebfmi = present.Contains("energy__") ? table.Column("energy__").Select(c => ConvergenceDiagnostics.Ebfmi(c)).ToArray() : [];
        var samplerWarnings = StanWarnings.Sampler(divergences, saturations, maxTreeDepth, ebfmi);

        var predictive = isPredictive is null ? [] : rows.Where(r => isPredictive(r.Variable)).ToList();
        var lp = rows.FirstOrDefault(r => r.Variable == "lp__");
        ConvergenceVerdict? verdict = null;
        IEnumerable<SummaryRow> deciding = rows;
        if (lp is not null && predictive.Count > 0)
        {
            verdict = FunctionSpaceVerdict.Evaluate(lp, predictive, table.Chains);
            deciding = predictive.Prepend(lp);
        }
        var convergenceWarnings = StanWarnings.Convergence(deciding, table.Chains);
        return new DrawsReport(rows, samplerWarnings, convergenceWarnings, verdict, table.Chains, table.DrawsPerChain);
    }
}
