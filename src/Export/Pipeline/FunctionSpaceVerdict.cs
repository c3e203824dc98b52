using System.Globalization;
using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Pipeline;

/// <summary>
/// Judges convergence in function space: a network's weights are not identifiable (hidden units permute and flip
/// sign), so per-weight R-hat says little. The verdict rests on <c>lp__</c> and on the posterior predictive means
/// at a set of inputs; per-weight rows are reported but do not decide.
/// </summary>
internal static class FunctionSpaceVerdict
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
