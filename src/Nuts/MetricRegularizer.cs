namespace Bnn.Onnx.Nuts;

/// <summary>
/// The one place a raw covariance estimate becomes a metric: Stan's shrinkage towards a small multiple of the
/// identity, M⁻¹ = (n/(n+5))·Σ̂ + 10⁻³·(5/(n+5))·I (Stan's <c>var_adaptation::learn_variance</c> and
/// <c>covar_adaptation::learn_covariance</c>).
/// </summary>
internal static class MetricRegularizer
{
    /// <summary>The estimator's regularised estimate as a metric, or null when it is not finite (or, dense, not positive definite).</summary>
    public static EuclideanMetric? Regularize(IMetricEstimator estimator) =>
        Regularize(estimator.Estimate(), estimator.Count, estimator.Dense, estimator.Dimension);

    /// <summary>
    /// (n/(n+5))·<paramref name="estimate"/> + 10⁻³·(5/(n+5)) on the diagonal, as a <see cref="DiagonalMetric"/> (d values) or
    /// a <see cref="DenseMetric"/> (row-major d × d); null when a value is not finite or a dense matrix has no Cholesky factor.
    /// </summary>
    public static EuclideanMetric? Regularize(double[] estimate, long count, bool dense, int dimension)
    {
        double n = count;
        double shrink = n / (n + 5.0), jitter = 1e-3 * (5.0 / (n + 5.0));
        var regularized = new double[estimate.Length];
        if (dense)
        {
            for (int i = 0; i < dimension; i++)
                for (int j = 0; j < dimension; j++)
                    regularized[i * dimension + j] = shrink * estimate[i * dimension + j] + (i == j ? jitter : 0.0);
            if (!VectorMath.AllFinite(regularized) || DenseMetric.Cholesky(regularized, dimension) is null) return null;
            return new DenseMetric(regularized, dimension);
        }
        for (int i = 0; i < dimension; i++) regularized[i] = shrink * estimate[i] + jitter;
        if (!VectorMath.AllFinite(regularized)) return null;
        return new DiagonalMetric(regularized);
    }
}
