namespace Bnn.Onnx.Nuts;

/// <summary>Which Euclidean metric (mass matrix M) the sampler adapts and uses.</summary>
public enum MetricKind
{
    /// <summary>Diagonal M⁻¹ (Stan's <c>diag_e</c>, the default).</summary>
    Diagonal,

    /// <summary>Dense M⁻¹ (Stan's <c>dense_e</c>).</summary>
    Dense,
}

/// <summary>
/// A Euclidean metric: kinetic energy K(p) = ½ pᵀ M⁻¹ p, momentum p ~ N(0, M).
/// Parameterised, as in Stan, by the inverse mass matrix M⁻¹ (an estimate of the posterior covariance).
/// Instances hold scratch buffers: one per chain, not thread-safe.
/// </summary>
public abstract class EuclideanMetric
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

/// <summary>Diagonal M⁻¹ = diag(<see cref="InverseMass"/>).</summary>
public sealed class DiagonalMetric : EuclideanMetric
{
    private readonly double[] _sqrtMass;

    public DiagonalMetric(double[] inverseMass) : base(inverseMass.Length)
    {
        foreach (double v in inverseMass)
            if (!(v > 0) || !double.IsFinite(v))
                throw new ArgumentException("the inverse mass diagonal must be positive and finite");
        InverseMass = (double[])inverseMass.Clone();
        _sqrtMass = InverseMass.Select(v => 1.0 / Math.Sqrt(v)).ToArray();
    }

    /// <summary>diag(M⁻¹).</summary>
    public double[] InverseMass { get; }

    public override void SampleMomentum(Rng rng, Span<double> momentum)
    {
        for (int i = 0; i < momentum.Length; i++) momentum[i] = rng.NextNormal() * _sqrtMass[i];
    }

    public override void Velocity(ReadOnlySpan<double> momentum, Span<double> velocity) =>
        VectorMath.Multiply(momentum, InverseMass, velocity);

    public override double[] InverseMassDiagonal() => (double[])InverseMass.Clone();

    public override double[]? InverseMassDense() => null;
}

/// <summary>Dense M⁻¹ (row-major d × d, symmetric positive definite); p is drawn as L⁻ᵀ z with M⁻¹ = L Lᵀ (Stan's dense_e_metric).</summary>
public sealed class DenseMetric : EuclideanMetric
{
    private readonly double[] _inverseMass;
    private readonly double[] _cholesky; // lower triangular L, row-major
    private readonly double[] _scratch;

    public DenseMetric(double[] inverseMass, int dimension) : base(dimension)
    {
        if (inverseMass.Length != dimension * dimension)
            throw new ArgumentException($"a dense inverse mass matrix for d = {dimension} needs {dimension * dimension} values, got {inverseMass.Length}");
        _inverseMass = (double[])inverseMass.Clone();
        _cholesky = Cholesky(_inverseMass, dimension)
            ?? throw new ArgumentException("the dense inverse mass matrix is not symmetric positive definite");
        _scratch = new double[dimension];
    }

    public static DenseMetric Identity(int dimension)
    {
        var m = new double[dimension * dimension];
        for (int i = 0; i < dimension; i++) m[i * dimension + i] = 1.0;
        return new DenseMetric(m, dimension);
    }

    /// <summary>Lower Cholesky factor of a row-major SPD matrix, or null if it is not positive definite.</summary>
    public static double[]? Cholesky(double[] a, int n)
    {
        var l = new double[n * n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                double sum = a[i * n + j];
                for (int k = 0; k < j; k++) sum -= l[i * n + k] * l[j * n + k];
                if (i == j)
                {
                    if (!(sum > 0) || !double.IsFinite(sum)) return null;
                    l[i * n + i] = Math.Sqrt(sum);
                }
                else
                {
                    l[i * n + j] = sum / l[j * n + j];
                }
            }
        }
        return l;
    }

    public override void SampleMomentum(Rng rng, Span<double> momentum)
    {
        int n = Dimension;
        var z = _scratch;
        for (int i = 0; i < n; i++) z[i] = rng.NextNormal();
        // Solve Lᵀ p = z by back substitution: Cov(p) = (L Lᵀ)⁻¹ = M.
        for (int i = n - 1; i >= 0; i--)
        {
            double sum = z[i];
            for (int k = i + 1; k < n; k++) sum -= _cholesky[k * n + i] * momentum[k];
            momentum[i] = sum / _cholesky[i * n + i];
        }
    }

    public override void Velocity(ReadOnlySpan<double> momentum, Span<double> velocity)
    {
        int n = Dimension;
        for (int i = 0; i < n; i++)
            velocity[i] = VectorMath.Dot(_inverseMass.AsSpan(i * n, n), momentum);
    }

    public override double[] InverseMassDiagonal()
    {
        int n = Dimension;
        var d = new double[n];
        for (int i = 0; i < n; i++) d[i] = _inverseMass[i * n + i];
        return d;
    }

    public override double[]? InverseMassDense() => (double[])_inverseMass.Clone();
}
