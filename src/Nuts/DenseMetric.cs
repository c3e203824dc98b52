namespace Bnn.Onnx.Nuts;

/// <summary>Dense M⁻¹ (row-major d × d, symmetric positive definite); p is drawn as L⁻ᵀ z with M⁻¹ = L Lᵀ (Stan's dense_e_metric).</summary>
internal sealed class DenseMetric : EuclideanMetric
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
        return Cholesky(a, n, l) ? l : null;
    }

    /// <summary>
    /// The lower Cholesky factor of the row-major n × n matrix <paramref name="a"/> written into the lower triangle of
    /// <paramref name="l"/> (its upper triangle is left as it was), without allocating; false when <paramref name="a"/>
    /// is not positive definite.
    /// </summary>
    public static bool Cholesky(ReadOnlySpan<double> a, int n, Span<double> l)
    {
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                double sum = a[i * n + j];
                for (int k = 0; k < j; k++) sum -= l[i * n + k] * l[j * n + k];
                if (i == j)
                {
                    if (!(sum > 0) || !double.IsFinite(sum)) return false;
                    l[i * n + i] = Math.Sqrt(sum);
                }
                else
                {
                    l[i * n + j] = sum / l[j * n + j];
                }
            }
        }
        return true;
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
