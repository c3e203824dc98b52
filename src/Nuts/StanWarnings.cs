using System.Globalization;

namespace Bnn.Onnx.Nuts;

/// <summary>Stan's warning texts (rstan's <c>check_hmc_diagnostics</c> and <c>monitor</c> wording).</summary>
internal static class StanWarnings
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
