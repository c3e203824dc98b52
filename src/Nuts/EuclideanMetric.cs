namespace Bnn.Onnx.Nuts;

/// <summary>
/// A Euclidean metric: kinetic energy K(p) = ½ pᵀ M⁻¹ p, momentum p ~ N(0, M).
/// Parameterised, as in Stan, by the inverse mass matrix M⁻¹ (an estimate of the posterior covariance).
/// Instances hold scratch buffers: one per chain, not thread-safe.
/// </summary>
internal abstract class EuclideanMetric
{
    protected EuclideanMetric(int dimension) => Dimension = dimension;

    /// <summary>d.</summary>
    public int Dimension { get; }

    /// <summary>Draws p ~ N(0, M) into <paramref name="momentum"/>.</summary>
    public abstract void SampleMomentum(Rng rng, Span<double> momentum);

    /// <summary>Writes the velocity dq/dt = M⁻¹ p (Stan's <c>dtau_dp</c>, the "sharp" momentum p♯).</summary>
    public abstract void Velocity(ReadOnlySpan<double> momentum, Span<double> velocity);

    /// <summary>K(p) = ½ pᵀ M⁻¹ p given the velocity v = M⁻¹ p.</summary>
    public static double KineticEnergy(ReadOnlySpan<double> momentum, ReadOnlySpan<double> velocity) =>
        0.5 * VectorMath.Dot(momentum, velocity);

    /// <summary>The diagonal of M⁻¹ (the whole of it for a diagonal metric).</summary>
    public abstract double[] InverseMassDiagonal();

    /// <summary>M⁻¹ as a row-major d × d matrix, or null for a diagonal metric.</summary>
    public abstract double[]? InverseMassDense();

    /// <summary>The unit metric of the given kind.</summary>
    public static EuclideanMetric Unit(MetricKind kind, int dimension) => kind switch
    {
        MetricKind.Dense => DenseMetric.Identity(dimension),
        _ => new DiagonalMetric(Enumerable.Repeat(1.0, dimension).ToArray()),
    };
}
