namespace Bnn.Onnx.Cli.Evaluation;

/// <summary>
/// Scores of a predictive distribution on held-out rows: the posterior's (an equal-weight mixture over draws) or a
/// point estimate's (one component). Pure functions of the per-draw network outputs and the targets, so that each
/// figure can be checked by hand.
/// </summary>
internal static class PredictiveMetrics
{
    /// <summary>The central interval levels scored by <see cref="Regression"/>.</summary>
    public static readonly IReadOnlyList<double> IntervalLevels = [0.5, 0.9, 0.95];

    /// <summary>The number of equal-width confidence bins of the ECE and the reliability diagram.</summary>
    public const int ConfidenceBins = 10;

    /// <summary>
    /// Regression under a normal likelihood: the predictive of row n is (1/S) Σ_s N(μ_sn, σ_s²).
    /// Interval ends are the mixture's quantiles (<see cref="NormalMixture.Quantile"/>: the mixture CDF solved by Newton
    /// steps safeguarded by bisection), so no sampling is involved and the result is exact to the solver's tolerance.
    /// </summary>
    /// <param name="means"><c>[draw][row]</c>: μ_sn = f(x_n; θ_s).</param>
    /// <param name="sigmas">σ_s per draw.</param>
    /// <param name="targets">y_n.</param>
    public static RegressionMetrics Regression(IReadOnlyList<double[]> means, IReadOnlyList<double> sigmas, IReadOnlyList<double> targets)
    {
        int draws = means.Count, rows = targets.Count;
        if (draws == 0) throw new ArgumentException("no draws to score");
        if (sigmas.Count != draws) throw new ArgumentException($"{sigmas.Count} σ values for {draws} draws");
        if (rows == 0) throw new ArgumentException("no rows to score");
        foreach (var m in means)
            if (m.Length != rows) throw new ArgumentException($"a draw has {m.Length} means for {rows} rows");
        var sigma = sigmas.ToArray();
        foreach (double s in sigma)
            if (!(s > 0) || !double.IsFinite(s)) throw new ArgumentException($"σ = {s} is not finite and positive");

        var squaredError = new double[rows];
        var logDensity = new double[rows];
        var pit = new double[rows];
        var widths = new double[IntervalLevels.Count][];
        for (int l = 0; l < widths.Length; l++) widths[l] = new double[rows];
        Parallel.For(0, rows, n =>
        {
            var column = new double[draws];
            for (int s = 0; s < draws; s++) column[s] = means[s][n];
            double y = targets[n];
            double mean = column.Average();
            squaredError[n] = (y - mean) * (y - mean);
            logDensity[n] = NormalMixture.LogDensity(y, column, sigma);
            pit[n] = NormalMixture.Cdf(y, column, sigma);
            for (int l = 0; l < widths.Length; l++)
            {
                double level = IntervalLevels[l];
                widths[l][n] = NormalMixture.Quantile(column, sigma, 0.5 * (1 + level)) - NormalMixture.Quantile(column, sigma, 0.5 * (1 - level));
            }
        });

        var result = new RegressionMetrics(rows, draws, Math.Sqrt(squaredError.Average()), logDensity.Average(), [], pit);
        return result with
        {
            Intervals = IntervalLevels.Select((level, l) => new IntervalScore(level, result.Coverage(level), widths[l].Average())).ToArray(),
        };
    }

    /// <summary>
    /// Classification: the predictive of row n is p̄_n = (1/S) Σ_s p_sn over K classes.
    /// </summary>
    /// <param name="logProbabilities"><c>[draw][row·K + k]</c>: log p_s(y_n = k), normalised over k.</param>
    /// <param name="classes">K ≥ 2.</param>
    /// <param name="labels">y_n ∈ {0, …, K − 1}.</param>
    public static ClassificationMetrics Classification(IReadOnlyList<double[]> logProbabilities, int classes, IReadOnlyList<int> labels)
    {
        int draws = logProbabilities.Count, rows = labels.Count;
        if (draws == 0) throw new ArgumentException("no draws to score");
        if (classes < 2) throw new ArgumentException($"{classes} classes: need at least 2");
        if (rows == 0) throw new ArgumentException("no rows to score");
        foreach (var d in logProbabilities)
            if (d.Length != rows * classes) throw new ArgumentException($"a draw has {d.Length} log probabilities for {rows} rows of {classes} classes");
        for (int n = 0; n < rows; n++)
            if (labels[n] < 0 || labels[n] >= classes) throw new ArgumentException($"label {labels[n]} at row {n + 1} is not in 0..{classes - 1}");

        double correct = 0, nll = 0, brier = 0, entropy = 0;
        var confidence = new double[rows];
        var hit = new bool[rows];
        var mean = new double[classes];
        var labelTerms = new double[draws];
        for (int n = 0; n < rows; n++)
        {
            Array.Clear(mean);
            for (int s = 0; s < draws; s++)
            {
                var row = logProbabilities[s].AsSpan(n * classes, classes);
                for (int k = 0; k < classes; k++) mean[k] += Math.Exp(row[k]);
                labelTerms[s] = row[labels[n]];
            }
            int top = 0;
            for (int k = 0; k < classes; k++)
            {
                mean[k] /= draws;
                if (mean[k] > mean[top]) top = k;
                double indicator = k == labels[n] ? 1 : 0;
                brier += (mean[k] - indicator) * (mean[k] - indicator);
                if (mean[k] > 0) entropy -= mean[k] * Math.Log(mean[k]);
            }
            nll -= LogMeanExp(labelTerms);
            hit[n] = top == labels[n];
            if (hit[n]) correct++;
            confidence[n] = mean[top];
        }

        var bins = Reliability(confidence, hit);
        double ece = bins.Where(b => b.Count > 0).Sum(b => b.Count / (double)rows * Math.Abs(b.Accuracy - b.Confidence));
        return new ClassificationMetrics(rows, draws, classes, correct / rows, nll / rows, brier / rows, ece, entropy / rows, bins);
    }

    /// <summary>
    /// <see cref="ConfidenceBins"/> equal-width bins of confidence: bin b holds c ∈ (b/B, (b + 1)/B], the first also
    /// c = 0 (Guo et al. 2017, §2).
    /// </summary>
    public static IReadOnlyList<ReliabilityBin> Reliability(IReadOnlyList<double> confidence, IReadOnlyList<bool> correct)
    {
        const int B = ConfidenceBins;
        var count = new int[B];
        var confidenceSum = new double[B];
        var correctSum = new double[B];
        for (int n = 0; n < confidence.Count; n++)
        {
            int b = Math.Clamp((int)Math.Ceiling(confidence[n] * B) - 1, 0, B - 1);
            count[b]++;
            confidenceSum[b] += confidence[n];
            if (correct[n]) correctSum[b]++;
        }
        return Enumerable.Range(0, B).Select(b => new ReliabilityBin((double)b / B, (double)(b + 1) / B, count[b],
            count[b] > 0 ? confidenceSum[b] / count[b] : double.NaN,
            count[b] > 0 ? correctSum[b] / count[b] : double.NaN)).ToArray();
    }

    /// <summary>log((1/S) Σ_s exp(a_s)), with the largest term factored out.</summary>
    public static double LogMeanExp(ReadOnlySpan<double> a)
    {
        double max = double.NegativeInfinity;
        foreach (double v in a) max = Math.Max(max, v);
        if (double.IsNegativeInfinity(max)) return max;
        double sum = 0;
        foreach (double v in a) sum += Math.Exp(v - max);
        return max + Math.Log(sum) - Math.Log(a.Length);
    }

    /// <summary>log σ(z) and log(1 − σ(z)) = −softplus(−z) and −softplus(z), computed stably.</summary>
    public static (double LogP0, double LogP1) BernoulliLogProbabilities(double logit)
    {
        double e = Math.Log(1 + Math.Exp(-Math.Abs(logit)));
        double softplusPlus = Math.Max(logit, 0) + e, softplusMinus = Math.Max(-logit, 0) + e;
        return (-softplusPlus, -softplusMinus);
    }

    /// <summary>log softmax(z) over one row, written into <paramref name="destination"/>.</summary>
    public static void LogSoftmax(ReadOnlySpan<double> z, Span<double> destination)
    {
        double max = double.NegativeInfinity;
        foreach (double v in z) max = Math.Max(max, v);
        double sum = 0;
        foreach (double v in z) sum += Math.Exp(v - max);
        double lse = max + Math.Log(sum);
        for (int k = 0; k < z.Length; k++) destination[k] = z[k] - lse;
    }
}
