namespace Bnn.Onnx.Nuts;

/// <summary>
/// A running estimate of the posterior covariance over one adaptation window (Stan's <c>welford_var_estimator</c> /
/// <c>welford_covar_estimator</c>, nutpie's gradient-based diagonal). It returns the raw estimate;
/// <see cref="MetricRegularizer"/> alone turns it into a metric.
/// </summary>
internal interface IMetricEstimator
{
    /// <summary>d, the length of θ.</summary>
    int Dimension { get; }

    /// <summary>Whether <see cref="Estimate"/> is a full d × d covariance (else its d diagonal values).</summary>
    bool Dense { get; }

    /// <summary>n, the draws added since the last <see cref="Restart"/>.</summary>
    long Count { get; }

    /// <summary>Adds one warmup draw (its position θ and, for estimators that use it, ∇ log p(θ)).</summary>
    void Add(NutsState state);

    /// <summary>
    /// The raw estimate of M⁻¹ from the draws so far: d variances, or a row-major d × d covariance when
    /// <see cref="Dense"/>. Not regularised; NaN where there are too few draws.
    /// </summary>
    double[] Estimate();

    /// <summary>Forgets every draw (at the start of the next window).</summary>
    void Restart();
}
