namespace Bnn.Onnx.Cli.Evaluation;

/// <summary>
/// The equal-weight normal mixture (1/S) Σ_s N(μ_s, σ_s²), the predictive distribution of a new observation under a
/// normal likelihood when θ_1 … θ_S are posterior draws (S = 1: the point estimate's own normal).
/// </summary>
internal static class NormalMixture
{
    /// <summary>½ log 2π.</summary>
    public const double HalfLogTwoPi = 0.91893853320467274178;

    /// <summary>log N(y; μ, σ²) = −½ log 2π − log σ − ½ ((y − μ)/σ)².</summary>
    public static double LogDensity(double y, double mean, double sigma)
    {
        double z = (y - mean) / sigma;
        return -HalfLogTwoPi - Math.Log(sigma) - 0.5 * z * z;
    }

    /// <summary>
    /// log p(y) = log((1/S) Σ_s N(y; μ_s, σ_s²)) = logsumexp_s(log N(y; μ_s, σ_s²)) − log S, computed with the largest
    /// term factored out so that no term underflows to zero.
    /// </summary>
    public static double LogDensity(double y, ReadOnlySpan<double> means, ReadOnlySpan<double> sigmas)
    {
        double max = double.NegativeInfinity;
        for (int s = 0; s < means.Length; s++) max = Math.Max(max, LogDensity(y, means[s], sigmas[s]));
        if (double.IsNegativeInfinity(max)) return max;
        double sum = 0;
        for (int s = 0; s < means.Length; s++) sum += Math.Exp(LogDensity(y, means[s], sigmas[s]) - max);
        return max + Math.Log(sum) - Math.Log(means.Length);
    }

    /// <summary>F(y) = (1/S) Σ_s Φ((y − μ_s)/σ_s).</summary>
    public static double Cdf(double y, ReadOnlySpan<double> means, ReadOnlySpan<double> sigmas)
    {
        double cdf = 0;
        for (int s = 0; s < means.Length; s++) cdf += NormalCdf((y - means[s]) / sigmas[s]);
        return cdf / means.Length;
    }

    /// <summary>
    /// The p-quantile F⁻¹(p): Newton's method on <see cref="Cdf"/> (its derivative is the mixture density) from the
    /// mean of the μ_s, safeguarded by bisection inside the bracket [min μ_s − 10σ_s, max μ_s + 10σ_s], which every
    /// step narrows; stops when |F(x) − p| &lt; 1e-13 or the bracket is 1e-10 of its starting width.
    /// </summary>
    public static double Quantile(ReadOnlySpan<double> means, ReadOnlySpan<double> sigmas, double p)
    {
        double lo = double.PositiveInfinity, hi = double.NegativeInfinity, start = 0;
        for (int i = 0; i < means.Length; i++)
        {
            lo = Math.Min(lo, means[i] - 10 * sigmas[i]);
            hi = Math.Max(hi, means[i] + 10 * sigmas[i]);
            start += means[i] / means.Length;
        }
        double tolerance = (hi - lo) * 1e-10;
        double x = start;
        while (hi - lo > tolerance)
        {
            double cdf = 0, density = 0;
            for (int s = 0; s < means.Length; s++)
            {
                double z = (x - means[s]) / sigmas[s];
                cdf += NormalCdf(z);
                density += Math.Exp(-0.5 * z * z - HalfLogTwoPi) / sigmas[s];
            }
            double excess = cdf / means.Length - p;
            if (Math.Abs(excess) < 1e-13) return x;
            if (excess < 0) lo = x;
            else hi = x;
            double newton = density > 0 ? x - excess / (density / means.Length) : double.NaN;
            x = newton > lo && newton < hi ? newton : 0.5 * (lo + hi);
        }
        return x;
    }

    /// <summary>Φ(z) = ½ erfc(−z/√2), erfc by the Chebyshev fit of Numerical Recipes §6.2 (relative error &lt; 1.2e-7).</summary>
    public static double NormalCdf(double z) => 0.5 * Erfc(-z / Math.Sqrt(2));

    private static double Erfc(double x)
    {
        double z = Math.Abs(x);
        double t = 1 / (1 + 0.5 * z);
        double r = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
            t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? r : 2 - r;
    }
}
