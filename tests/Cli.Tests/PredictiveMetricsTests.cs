using Bnn.Onnx.Cli.Evaluation;

namespace Bnn.Onnx.Tests;

/// <summary>
/// <see cref="PredictiveMetrics"/> against figures computed by hand (NumPy, with exact erf and a 200-step bisection
/// for the mixture quantiles), and on synthetic data drawn from the predictive itself, where a calibrated score must
/// come out calibrated.
/// </summary>
public class PredictiveMetricsTests
{
    // Two draws, three rows: μ_0 = (0, 1, 2), σ_0 = 1; μ_1 = (1, 1, 0), σ_1 = 0.5; y = (0.5, 2, 1).
    private static readonly double[][] Means = [[0.0, 1.0, 2.0], [1.0, 1.0, 0.0]];
    private static readonly double[] Sigmas = [1.0, 0.5];
    private static readonly double[] Targets = [0.5, 2.0, 1.0];

    [Fact]
    public void Regression_metrics_of_a_two_draw_mixture_match_the_hand_computation()
    {
        var m = PredictiveMetrics.Regression(Means, Sigmas, Targets);

        // Predictive means (0.5, 1, 1): errors (0, 1, 0), RMSE √(1/3).
        Assert.Equal(Math.Sqrt(1.0 / 3), m.Rmse, 12);
        // mean_n log(½ N(y_n; μ_0n, 1) + ½ N(y_n; μ_1n, 0.25)) = −1.452824966063271 (NumPy).
        Assert.Equal(-1.452824966063271, m.MeanLogPredictiveDensity, 12);
        // PIT F_n(y_n) = (0.42506, 0.90930, 0.56795): rows 0 and 2 in the 50% interval, all three in 90% and 95%.
        Assert.Equal([0.4250588576027351, 0.9092973070601819, 0.5679525609916389], m.Pit.ToArray(),
            new ToleranceComparer(1e-6));
        Assert.Equal([0.5, 0.9, 0.95], m.Intervals.Select(i => i.Level));
        Assert.Equal([2.0 / 3, 1.0, 1.0], m.Intervals.Select(i => i.Coverage));
        // Mean widths of the mixture's central intervals (NumPy bisection to machine precision).
        Assert.Equal(1.384501535319477, m.Intervals[0].MeanWidth, 5);
        Assert.Equal(3.2002385560275726, m.Intervals[1].MeanWidth, 5);
        Assert.Equal(3.798689066442672, m.Intervals[2].MeanWidth, 5);
    }

    [Fact]
    public void One_component_is_a_normal_with_the_textbook_interval_widths()
    {
        var m = PredictiveMetrics.Regression([[1.0, 2.0]], [2.0], [1.5, 2.0]);
        // 2 z_{(1+l)/2} σ with z = 0.6744898, 1.6448536, 1.9599640.
        Assert.Equal(2 * 0.6744897501960817 * 2, m.Intervals[0].MeanWidth, 5);
        Assert.Equal(2 * 1.6448536269514722 * 2, m.Intervals[1].MeanWidth, 5);
        Assert.Equal(2 * 1.959963984540054 * 2, m.Intervals[2].MeanWidth, 5);
        double logDensity0 = -0.5 * Math.Log(2 * Math.PI) - Math.Log(2) - 0.5 * 0.25 * 0.25;
        double logDensity1 = -0.5 * Math.Log(2 * Math.PI) - Math.Log(2);
        Assert.Equal(0.5 * (logDensity0 + logDensity1), m.MeanLogPredictiveDensity, 12);
        Assert.Equal(Math.Sqrt(0.125), m.Rmse, 12);
    }

    [Fact]
    public void Mixture_quantiles_invert_the_mixture_cdf_across_a_gap_between_components()
    {
        // Two narrow components far apart: the CDF is flat between them, where a bare Newton step would overshoot.
        double[] means = [-50, 0.3, 80], sigmas = [0.1, 2, 0.01];
        foreach (double p in new[] { 0.001, 0.05, 0.25, 1.0 / 3, 0.5, 0.66, 0.9, 0.975, 0.999 })
        {
            double q = NormalMixture.Quantile(means, sigmas, p);
            Assert.Equal(p, NormalMixture.Cdf(q, means, sigmas), 9);
        }
    }

    [Fact]
    public void Log_density_of_a_far_target_is_finite_where_every_component_underflows()
    {
        // exp(−½ 60²) underflows to 0 in each component; the log-sum-exp keeps the value.
        var m = PredictiveMetrics.Regression([[0.0], [0.0]], [1.0, 1.0], [60.0]);
        Assert.Equal(-0.5 * Math.Log(2 * Math.PI) - 1800, m.MeanLogPredictiveDensity, 9);
    }

    // Two draws, four rows, three classes; labels (0, 2, 2, 0). Mixture p̄ = (0.61, 0.24, 0.15), (0.2, 0.52, 0.28),
    // (0.25, 0.2, 0.55), (0.3, 0.175, 0.525): top classes 0, 1, 2, 2, so rows 0 and 2 are right.
    private static readonly double[][] Probabilities =
    [
        [0.72, 0.18, 0.1, 0.1, 0.62, 0.28, 0.3, 0.25, 0.45, 0.5, 0.25, 0.25],
        [0.5, 0.3, 0.2, 0.3, 0.42, 0.28, 0.2, 0.15, 0.65, 0.1, 0.1, 0.8],
    ];

    [Fact]
    public void Classification_metrics_of_a_two_draw_mixture_match_the_hand_computation()
    {
        var logProbabilities = Probabilities.Select(d => d.Select(v => Math.Log(v)).ToArray()).ToArray();
        var m = PredictiveMetrics.Classification(logProbabilities, 3, [0, 2, 2, 0]);

        Assert.Equal(0.5, m.Accuracy);
        // −mean(log 0.61, log 0.28, log 0.55, log 0.3)
        Assert.Equal(-(Math.Log(0.61) + Math.Log(0.28) + Math.Log(0.55) + Math.Log(0.3)) / 4, m.Nll, 12);
        Assert.Equal(0.8922679506773059, m.Nll, 12);
        // Σ_k (p̄ − onehot)² per row: 0.2322, 0.8288, 0.3050, 0.79625; mean 0.5405625.
        Assert.Equal(0.5405625, m.Brier, 12);
        Assert.Equal(0.9871817101574676, m.MeanEntropy, 12);
        // Confidences 0.61 (right), 0.52 (wrong), 0.55 (right), 0.525 (wrong): bin (0.5, 0.6] holds three rows with mean
        // confidence 0.531667 and accuracy 1/3, bin (0.6, 0.7] one row, 0.61 and 1.
        // ECE = ¾ |1/3 − 0.531667| + ¼ |1 − 0.61| = 0.24625.
        Assert.Equal(0.24625, m.Ece, 12);
        Assert.Equal(3, m.Bins[5].Count);
        Assert.Equal(1, m.Bins[6].Count);
        Assert.Equal(4, m.Bins.Sum(b => b.Count));
        Assert.True(double.IsNaN(m.Bins[0].Accuracy));
    }

    [Fact]
    public void Bernoulli_logits_give_stable_log_probabilities()
    {
        foreach (double z in new[] { -800.0, -3.0, 0.0, 2.5, 800.0 })
        {
            var (logP0, logP1) = PredictiveMetrics.BernoulliLogProbabilities(z);
            Assert.Equal(1.0, Math.Exp(logP0) + Math.Exp(logP1), 12);
            if (Math.Abs(z) < 30) Assert.Equal(Math.Log(1 / (1 + Math.Exp(-z))), logP1, 12);
        }
        Assert.Equal(-800.0, PredictiveMetrics.BernoulliLogProbabilities(800).LogP0, 9);
    }

    [Fact]
    public void Labels_drawn_from_the_predicted_probabilities_are_calibrated()
    {
        // Given 20,000 rows whose two draws' probabilities vary widely, and labels drawn from the mixture p̄ (seed 7),
        // ECE is small: under perfect calibration each bin's accuracy differs from its confidence only by sampling
        // noise, √(c(1 − c)/n_b) ≲ 0.011 for the bins that hold ≥ 2,000 rows, so ECE ≲ 0.01; we allow 0.02.
        const int rows = 20_000, classes = 3;
        var rng = new Random(7);
        var (logProbabilities, mean) = RandomProbabilities(rng, rows, classes, sharpness: 3);
        var labels = mean.Select(p => Draw(rng, p)).ToArray();
        var calibrated = PredictiveMetrics.Classification(logProbabilities, classes, labels);
        Assert.True(calibrated.Ece < 0.02, $"ECE {calibrated.Ece:F4} of a calibrated predictive");

        // Then the same labels scored by an overconfident predictive (p̄ squared and renormalised) are not: the
        // test can fail.
        var sharpened = new[] { mean.SelectMany(p => Normalise(p.Select(v => v * v).ToArray()).Select(v => Math.Log(v))).ToArray() };
        var overconfident = PredictiveMetrics.Classification(sharpened, classes, labels);
        Assert.True(overconfident.Ece > 0.05, $"ECE {overconfident.Ece:F4} of an overconfident predictive");
        Assert.True(overconfident.Nll > calibrated.Nll);
    }

    [Fact]
    public void Targets_drawn_from_the_predictive_mixture_are_covered_at_the_nominal_rate()
    {
        // Given 4,000 rows, each with its own three-component mixture, and y_n drawn from it (seed 11): the coverage
        // of each central interval is binomial(4000, l), so it lies within 3.3 standard errors √(l(1 − l)/4000) of
        // l (a 0.1% two-sided band per level).
        const int rows = 4_000, draws = 3;
        var rng = new Random(11);
        var sigmas = new[] { 0.5, 1.0, 2.0 };
        var means = Enumerable.Range(0, draws).Select(_ => new double[rows]).ToArray();
        var y = new double[rows];
        for (int n = 0; n < rows; n++)
        {
            for (int s = 0; s < draws; s++) means[s][n] = 3 * Normal(rng);
            int pick = rng.Next(draws);
            y[n] = means[pick][n] + sigmas[pick] * Normal(rng);
        }
        var m = PredictiveMetrics.Regression(means, sigmas, y);
        foreach (var level in new[] { 0.1, 0.3, 0.5, 0.7, 0.9, 0.95 })
        {
            double se = Math.Sqrt(level * (1 - level) / rows);
            Assert.InRange(m.Coverage(level), level - 3.3 * se, level + 3.3 * se);
        }
        foreach (var interval in m.Intervals) Assert.Equal(m.Coverage(interval.Level), interval.Coverage);

        // Then the same targets against the components' means with a third of the spread are under-covered.
        var narrow = PredictiveMetrics.Regression(means, sigmas.Select(s => s / 3).ToArray(), y);
        Assert.True(narrow.Coverage(0.9) < 0.85, $"coverage {narrow.Coverage(0.9):F3} of a too-narrow predictive");
    }

    [Fact]
    public void Inconsistent_inputs_are_refused()
    {
        Assert.Throws<ArgumentException>(() => PredictiveMetrics.Regression([], [], [1.0]));
        Assert.Throws<ArgumentException>(() => PredictiveMetrics.Regression([[1.0]], [0.0], [1.0]));
        Assert.Throws<ArgumentException>(() => PredictiveMetrics.Regression([[1.0, 2.0]], [1.0], [1.0]));
        Assert.Throws<ArgumentException>(() => PredictiveMetrics.Classification([[Math.Log(0.5), Math.Log(0.5)]], 2, [2]));
        Assert.Throws<ArgumentException>(() => PredictiveMetrics.Classification([[0.0]], 1, [0]));
    }

    private static (double[][] LogProbabilities, double[][] Mean) RandomProbabilities(Random rng, int rows, int classes, double sharpness)
    {
        var draws = new double[2][];
        var mean = new double[rows][];
        for (int s = 0; s < 2; s++) draws[s] = new double[rows * classes];
        for (int n = 0; n < rows; n++)
        {
            mean[n] = new double[classes];
            for (int s = 0; s < 2; s++)
            {
                var p = Normalise(Enumerable.Range(0, classes).Select(_ => Math.Exp(sharpness * Normal(rng))).ToArray());
                for (int k = 0; k < classes; k++)
                {
                    draws[s][n * classes + k] = Math.Log(p[k]);
                    mean[n][k] += p[k] / 2;
                }
            }
        }
        return (draws, mean);
    }

    private static double[] Normalise(double[] v)
    {
        double sum = v.Sum();
        return v.Select(x => x / sum).ToArray();
    }

    private static int Draw(Random rng, double[] p)
    {
        double u = rng.NextDouble(), cumulative = 0;
        for (int k = 0; k < p.Length; k++)
        {
            cumulative += p[k];
            if (u < cumulative) return k;
        }
        return p.Length - 1;
    }

    private static double Normal(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;
        public int GetHashCode(double obj) => 0;
    }
}
