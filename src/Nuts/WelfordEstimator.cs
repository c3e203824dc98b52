namespace Bnn.Onnx.Nuts;

/// <summary>
/// Welford's running mean and sample (co)variance of positions, Stan's <c>welford_var_estimator</c> (diagonal) and
/// <c>welford_covar_estimator</c> (dense). Returns the raw estimate with the n − 1 denominator.
/// </summary>
internal sealed class WelfordEstimator : IMetricEstimator
{
    private readonly int _d;
    private readonly double[] _mean, _m2, _delta;
    private long _n;

    public WelfordEstimator(int dimension, bool dense)
    {
        _d = dimension;
        Dense = dense;
        _mean = new double[dimension];
        _m2 = new double[dense ? dimension * dimension : dimension];
        _delta = new double[dimension];
    }

    public int Dimension => _d;

    public bool Dense { get; }

    public long Count => _n;

    public void Restart()
    {
        _n = 0;
        Array.Clear(_mean);
        Array.Clear(_m2);
    }

    /// <summary>Adds the draw's position θ.</summary>
    public void Add(NutsState state) => Add(state.Position);

    /// <summary>Adds one vector x.</summary>
    public void Add(ReadOnlySpan<double> x)
    {
        ++_n;
        for (int i = 0; i < _d; i++)
        {
            _delta[i] = x[i] - _mean[i];
            _mean[i] += _delta[i] / _n;
        }
        if (Dense)
        {
            // m2 += (x − mean_new)(x − mean_old)ᵀ, Stan's welford_covar_estimator
            for (int i = 0; i < _d; i++)
            {
                double a = x[i] - _mean[i];
                for (int j = 0; j < _d; j++) _m2[i * _d + j] += a * _delta[j];
            }
        }
        else
        {
            for (int i = 0; i < _d; i++) _m2[i] += _delta[i] * (x[i] - _mean[i]);
        }
    }

    /// <summary>The sample variances m2 / (n − 1), or the sample covariance symmetrised against round-off.</summary>
    public double[] Estimate()
    {
        double n = _n;
        if (Dense)
        {
            var covar = new double[_d * _d];
            for (int i = 0; i < _d; i++)
                for (int j = 0; j < _d; j++)
                    covar[i * _d + j] = 0.5 * (_m2[i * _d + j] + _m2[j * _d + i]) / (n - 1.0);
            return covar;
        }
        var variance = new double[_d];
        for (int i = 0; i < _d; i++) variance[i] = _m2[i] / (n - 1.0);
        return variance;
    }
}
