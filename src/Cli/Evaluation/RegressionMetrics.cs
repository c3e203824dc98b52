namespace Bnn.Onnx.Cli.Evaluation;

/// <summary>
/// Held-out scores of a normal predictive (<see cref="PredictiveMetrics.Regression"/>).
/// </summary>
/// <param name="Rows">N, the held-out rows.</param>
/// <param name="Draws">S, the mixture's components (1 for a point estimate).</param>
/// <param name="Rmse">√((1/N) Σ_n (y_n − ȳ_n)²) with ȳ_n = (1/S) Σ_s μ_sn, the predictive mean.</param>
/// <param name="MeanLogPredictiveDensity">(1/N) Σ_n log p(y_n), p the mixture (1/S) Σ_s N(μ_sn, σ_s²).</param>
/// <param name="Intervals">Coverage and width of the central intervals at <see cref="PredictiveMetrics.IntervalLevels"/>.</param>
/// <param name="Pit">The probability integral transform F_n(y_n) of each row: y_n lies in the central interval of
/// level l exactly when |F_n(y_n) − ½| ≤ l/2, so <see cref="Coverage"/> at any level follows from it.</param>
internal sealed record RegressionMetrics(int Rows, int Draws, double Rmse, double MeanLogPredictiveDensity,
    IReadOnlyList<IntervalScore> Intervals, IReadOnlyList<double> Pit)
{
    /// <summary>The fraction of rows inside their central predictive interval of level <paramref name="level"/>.</summary>
    public double Coverage(double level)
    {
        double lower = 0.5 * (1 - level), upper = 0.5 * (1 + level);
        return Pit.Count(u => u >= lower && u <= upper) / (double)Pit.Count;
    }
}
