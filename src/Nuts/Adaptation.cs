namespace Bnn.Onnx.Nuts;

/// <summary>
/// Nesterov dual averaging of log ε towards a target acceptance statistic δ (Hoffman &amp; Gelman 2014, §3.2.1;
/// Stan's <c>stepsize_adaptation</c>). Defaults δ = 0.8, γ = 0.05, t₀ = 10, κ = 0.75.
/// </summary>
public sealed class DualAveraging(double targetAccept = 0.8, double gamma = 0.05, double t0 = 10, double kappa = 0.75)
{
    private double _counter, _sBar, _xBar;

    /// <summary>μ, the point log ε is shrunk towards (Stan: log(10 ε₀)).</summary>
    public double Mu { get; set; }

    /// <summary>Forgets the running averages (at the start of warmup and after each metric update).</summary>
    public void Restart()
    {
        _counter = 0;
        _sBar = 0;
        _xBar = 0;
    }

    /// <summary>Stan's <c>learn_stepsize</c>: folds in one acceptance statistic, returns the next ε = exp(x).</summary>
    public double Update(double acceptStat)
    {
        ++_counter;
        if (acceptStat > 1) acceptStat = 1;
        if (double.IsNaN(acceptStat)) acceptStat = 0;
        double eta = 1.0 / (_counter + t0);
        _sBar = (1.0 - eta) * _sBar + eta * (targetAccept - acceptStat);
        double x = Mu - _sBar * Math.Sqrt(_counter) / gamma;
        double xEta = Math.Pow(_counter, -kappa);
        _xBar = (1.0 - xEta) * _xBar + xEta * x;
        return Math.Exp(x);
    }

    /// <summary>Stan's <c>complete_adaptation</c>: the step size used after warmup, exp(x̄).</summary>
    public double FinalStepSize => Math.Exp(_xBar);
}

/// <summary>
/// Stan's windowed adaptation schedule (<c>windowed_adaptation</c>), default 75 / 25 doubling / 50:
/// <code>
///  |&lt;- init buffer -&gt;|&lt;- w -&gt;|&lt;-- 2w --&gt;|&lt;---- 4w (stretched to the end) ----&gt;|&lt;- term buffer -&gt;|
///   step size only     metric windows, step size restarted after each         step size only
/// </code>
/// With fewer than 20 warmup iterations only the step size adapts; when the buffers and the first window do not
/// fit, they become 15% / 75% / 10% of the warmup.
/// </summary>
public sealed class WindowedAdaptationSchedule
{
    private readonly int _numWarmup, _initBuffer, _termBuffer;
    private int _windowSize, _nextWindowEnd, _counter;

    public WindowedAdaptationSchedule(int numWarmup, int initBuffer = 75, int termBuffer = 50, int baseWindow = 25)
    {
        if (numWarmup < 20)
        {
            // No metric adaptation; mirrors Stan, whose window parameters then stay zero.
            _numWarmup = 0;
            _initBuffer = 0;
            _termBuffer = 0;
            _windowSize = 0;
            _nextWindowEnd = -1;
            return;
        }
        if (initBuffer + baseWindow + termBuffer > numWarmup)
        {
            initBuffer = (int)(0.15 * numWarmup);
            termBuffer = (int)(0.1 * numWarmup);
            baseWindow = numWarmup - (initBuffer + termBuffer);
        }
        _numWarmup = numWarmup;
        _initBuffer = initBuffer;
        _termBuffer = termBuffer;
        _windowSize = baseWindow;
        _nextWindowEnd = initBuffer + baseWindow - 1;
    }

    /// <summary>0-based warmup iteration the schedule is at.</summary>
    public int Iteration => _counter;

    /// <summary>Whether the current iteration's draw feeds the metric estimate (Stan's <c>adaptation_window</c>).</summary>
    public bool InWindow => _counter >= _initBuffer && _counter < _numWarmup - _termBuffer && _counter != _numWarmup;

    /// <summary>Whether the current iteration closes a metric window (Stan's <c>end_adaptation_window</c>).</summary>
    public bool IsWindowEnd => _counter == _nextWindowEnd && _counter != _numWarmup;

    /// <summary>Moves to the next iteration; call once per warmup iteration, after <see cref="InWindow"/>/<see cref="IsWindowEnd"/>.</summary>
    public void Advance()
    {
        if (IsWindowEnd) ComputeNextWindow();
        ++_counter;
    }

    private void ComputeNextWindow()
    {
        int lastEnd = _numWarmup - _termBuffer - 1;
        if (_nextWindowEnd == lastEnd) return;
        _windowSize *= 2;
        _nextWindowEnd = _counter + _windowSize;
        if (_nextWindowEnd != lastEnd)
        {
            // Stretch this window to the end if the one after it would not fit.
            int nextBoundary = _nextWindowEnd + 2 * _windowSize;
            if (nextBoundary >= _numWarmup - _termBuffer) _nextWindowEnd = lastEnd;
        }
    }

    /// <summary>The (start, end) iteration of each metric window, for display and tests.</summary>
    public static IReadOnlyList<(int Start, int End)> Windows(int numWarmup, int initBuffer = 75, int termBuffer = 50, int baseWindow = 25)
    {
        var s = new WindowedAdaptationSchedule(numWarmup, initBuffer, termBuffer, baseWindow);
        var list = new List<(int, int)>();
        int start = -1;
        for (int i = 0; i < numWarmup; i++)
        {
            if (s.InWindow && start < 0) start = i;
            if (s.IsWindowEnd)
            {
                list.Add((start, i));
                start = -1;
            }
            s.Advance();
        }
        return list;
    }
}

/// <summary>
/// Welford's running mean and (co)variance of positions, regularised as Stan does when a window closes:
/// Σ̂ ← n/(n+5) Σ̂ + 10⁻³ · 5/(n+5) · I (Stan's <c>var_adaptation</c> / <c>covar_adaptation</c>).
/// </summary>
public sealed class WelfordEstimator
{
    private readonly int _d;
    private readonly bool _dense;
    private readonly double[] _mean, _m2, _delta;
    private long _n;

    public WelfordEstimator(int dimension, bool dense)
    {
        _d = dimension;
        _dense = dense;
        _mean = new double[dimension];
        _m2 = new double[dense ? dimension * dimension : dimension];
        _delta = new double[dimension];
    }

    public long Count => _n;

    public void Restart()
    {
        _n = 0;
        Array.Clear(_mean);
        Array.Clear(_m2);
    }

    public void Add(ReadOnlySpan<double> x)
    {
        ++_n;
        for (int i = 0; i < _d; i++)
        {
            _delta[i] = x[i] - _mean[i];
            _mean[i] += _delta[i] / _n;
        }
        if (_dense)
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

    /// <summary>The regularised inverse mass matrix from the samples so far, or null when it is not finite (overflow).</summary>
    public EuclideanMetric? RegularizedMetric()
    {
        double n = _n;
        double shrink = n / (n + 5.0), jitter = 1e-3 * (5.0 / (n + 5.0));
        if (_dense)
        {
            var covar = new double[_d * _d];
            for (int i = 0; i < _d; i++)
                for (int j = 0; j < _d; j++)
                {
                    // symmetrise against round-off
                    double c = 0.5 * (_m2[i * _d + j] + _m2[j * _d + i]) / (n - 1.0);
                    covar[i * _d + j] = shrink * c + (i == j ? jitter : 0.0);
                }
            if (!VectorMath.AllFinite(covar) || DenseMetric.Cholesky(covar, _d) is null) return null;
            return new DenseMetric(covar, _d);
        }
        var variance = new double[_d];
        for (int i = 0; i < _d; i++) variance[i] = shrink * (_m2[i] / (n - 1.0)) + jitter;
        if (!VectorMath.AllFinite(variance)) return null;
        return new DiagonalMetric(variance);
    }
}
