namespace Bnn.Onnx.Nuts;

/// <summary>
/// Low-rank plus diagonal M⁻¹ = diag(σ) (I + U (diag(λ) − I) Uᵀ) diag(σ), with σ the d diagonal scales and U the
/// k orthonormal directions (d × k) along which the scaled posterior's variance is λ rather than 1 (nutpie's
/// <c>LowRankMassMatrix</c>, Seyboldt, Carlson &amp; Carpenter 2026). M⁻¹ p and a momentum draw p = M^{1/2} z both
/// cost O(d·k): p = diag(σ)⁻¹ (I + U (diag(λ)^{−1/2} − I) Uᵀ) z. With k = 0 it is a diagonal metric.
/// </summary>
internal sealed class LowRankMetric : EuclideanMetric
{
    private readonly double[] _scale;      // σ
    private readonly double[] _directions; // U column by column: direction j is [j·d, j·d + d)
    private readonly double[] _values;     // λ
    private readonly double[] _velocityFactor, _momentumFactor; // λ − 1 and λ^{−1/2} − 1
    private readonly double[] _scratch, _projection;

    /// <param name="scale">σ, d positive values.</param>
    /// <param name="directions">U, k orthonormal vectors of length d stored one after another.</param>
    /// <param name="values">λ, k positive values.</param>
    public LowRankMetric(double[] scale, double[] directions, double[] values) : base(scale.Length)
    {
        int d = scale.Length;
        if (directions.Length != d * values.Length)
            throw new ArgumentException($"{values.Length} directions in d = {d} need {d * values.Length} values, got {directions.Length}");
        foreach (double s in scale)
            if (!(s > 0) || !double.IsFinite(s)) throw new ArgumentException("the diagonal scales must be positive and finite");
        foreach (double v in values)
            if (!(v > 0) || !double.IsFinite(v)) throw new ArgumentException("the low-rank eigenvalues must be positive and finite");
        if (!VectorMath.AllFinite(directions)) throw new ArgumentException("the low-rank directions must be finite");
        _scale = (double[])scale.Clone();
        _directions = (double[])directions.Clone();
        _values = (double[])values.Clone();
        _velocityFactor = _values.Select(v => v - 1.0).ToArray();
        _momentumFactor = _values.Select(v => 1.0 / Math.Sqrt(v) - 1.0).ToArray();
        _scratch = new double[d];
        _projection = new double[values.Length];
    }

    /// <summary>k, the number of directions beyond the diagonal.</summary>
    public int Rank => _values.Length;

    /// <summary>σ, the diagonal scales (standard deviations).</summary>
    public double[] Scale => (double[])_scale.Clone();

    /// <summary>λ, the variances along the directions, in the scaled coordinates.</summary>
    public double[] EigenValues => (double[])_values.Clone();

    public override void SampleMomentum(Rng rng, Span<double> momentum)
    {
        var z = _scratch.AsSpan();
        for (int i = 0; i < z.Length; i++) z[i] = rng.NextNormal();
        ApplyLowRank(z, _momentumFactor);
        for (int i = 0; i < z.Length; i++) momentum[i] = z[i] / _scale[i];
    }

    public override void Velocity(ReadOnlySpan<double> momentum, Span<double> velocity)
    {
        var w = _scratch.AsSpan();
        VectorMath.Multiply(momentum, _scale, w);
        ApplyLowRank(w, _velocityFactor);
        VectorMath.Multiply(w, _scale, velocity);
    }

    /// <summary>w ← (I + U diag(f) Uᵀ) w.</summary>
    private void ApplyLowRank(Span<double> w, double[] factor)
    {
        int d = Dimension, k = _values.Length;
        for (int j = 0; j < k; j++) _projection[j] = factor[j] * VectorMath.Dot(_directions.AsSpan(j * d, d), w);
        for (int j = 0; j < k; j++) VectorMath.AddScaled(w, _projection[j], _directions.AsSpan(j * d, d));
    }

    /// <summary>diag(M⁻¹)ᵢ = σᵢ² (1 + Σⱼ (λⱼ − 1) Uᵢⱼ²).</summary>
    public override double[] InverseMassDiagonal()
    {
        int d = Dimension;
        var diagonal = new double[d];
        for (int i = 0; i < d; i++)
        {
            double s = 1.0;
            for (int j = 0; j < _values.Length; j++)
            {
                double u = _directions[j * d + i];
                s += _velocityFactor[j] * u * u;
            }
            diagonal[i] = _scale[i] * _scale[i] * s;
        }
        return diagonal;
    }

    /// <summary>Null: M⁻¹ is kept in its low-rank form (its diagonal is <see cref="InverseMassDiagonal"/>).</summary>
    public override double[]? InverseMassDense() => null;

    /// <summary>M⁻¹ as a row-major d × d matrix (for tests and small d).</summary>
    public double[] ToDense()
    {
        int d = Dimension;
        var m = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int l = 0; l < d; l++)
            {
                double s = i == l ? 1.0 : 0.0;
                for (int j = 0; j < _values.Length; j++) s += _velocityFactor[j] * _directions[j * d + i] * _directions[j * d + l];
                m[i * d + l] = _scale[i] * s * _scale[l];
            }
        return m;
    }
}
