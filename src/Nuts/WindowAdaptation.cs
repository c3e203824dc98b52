namespace Bnn.Onnx.Nuts;

/// <summary>
/// Stan's warmup as one adapter (Stan's <c>stepsize_var_adapter</c> / <c>stepsize_covar_adapter</c>, BlackJAX's
/// <c>window_adaptation</c>): dual averaging of the step size throughout, and the metric estimated over the windows of
/// a <see cref="WindowedAdaptationSchedule"/> (75 / 25 doubling / 50 by default). At the end of each window the estimator's raw estimate is regularised by <see cref="MetricRegularizer"/> (the
/// previous metric is kept if it is not finite; the low-rank metric is learnt by <see cref="LowRankFisherEstimator"/>
/// from the same windows' draws and gradients, unregularised as in nutpie), the step-size heuristic is rerun under the new metric and dual
/// averaging restarts from μ = log(10 ε). Use: <see cref="Init"/> once, <see cref="Update"/> after every warmup
/// transition, <see cref="Final"/> for the parameters of the sampling phase.
/// </summary>
internal sealed class WindowAdaptation
{
    private readonly NutsKernel _kernel;
    private readonly int _numWarmup;
    private readonly double _initialStepSize;
    private readonly DualAveraging _stepSize;
    private readonly WindowedAdaptationSchedule _schedule;
    private readonly IMetricEstimator? _estimator;
    private readonly LowRankFisherEstimator? _lowRank;
    private NutsParameters _parameters;

    /// <param name="kernel">The chain's kernel, for Stan's step-size heuristic (<see cref="NutsKernel.FindReasonableStepSize"/>).</param>
    /// <param name="options">Warmup length, windows, dual averaging settings, metric kind and estimator.</param>
    public WindowAdaptation(NutsKernel kernel, SamplerOptions options)
    {
        int d = kernel.Density.Dimension;
        _kernel = kernel;
        _numWarmup = options.Warmup;
        _initialStepSize = options.InitialStepSize;
        _stepSize = new DualAveraging(options.TargetAccept, options.Gamma, options.T0, options.Kappa);
        _schedule = new WindowedAdaptationSchedule(options.Warmup, options.InitBuffer, options.TermBuffer, options.BaseWindow);
        if (options.Metric == MetricKind.LowRank) _lowRank = new LowRankFisherEstimator(d);
        else
            _estimator = options.MetricAdaptation == MetricAdaptation.GradientBased
                ? new GradientBasedVarianceEstimator(d)
                : new WelfordEstimator(d, options.Metric == MetricKind.Dense);
        _parameters = new NutsParameters(options.InitialStepSize, EuclideanMetric.Unit(options.Metric, d));
    }

    /// <summary>
    /// The parameters of the first warmup transition: the unit metric and, when there is warmup, ε from Stan's
    /// <c>init_stepsize</c> heuristic at <paramref name="state"/>, with μ = log(10 ε₀) from the user's ε₀.
    /// Without warmup, ε₀ and the unit metric as given.
    /// </summary>
    public NutsParameters Init(Rng rng, NutsState state)
    {
        if (_numWarmup == 0) return _parameters;
        _parameters = _parameters with { StepSize = _kernel.FindReasonableStepSize(rng, state, _parameters) };
        _stepSize.Mu = Math.Log(10 * _initialStepSize);
        _stepSize.Restart();
        return _parameters;
    }

    /// <summary>
    /// Folds in one warmup transition (its new state and acceptance statistic) and returns the parameters of the next
    /// (Stan's <c>adapt_diag_e_nuts::transition</c>).
    /// </summary>
    public NutsParameters Update(Rng rng, NutsState state, in NutsInfo info)
    {
        double stepSize = _stepSize.Update(info.AcceptStat);
        var metric = _parameters.Metric;
        if (_schedule.InWindow)
        {
            _estimator?.Add(state);
            _lowRank?.Add(state);
        }
        if (_schedule.IsWindowEnd)
        {
            // Keep the previous metric on overflow.
            metric = (_lowRank is not null ? _lowRank.Estimate() : MetricRegularizer.Regularize(_estimator!)) ?? metric;
            _estimator?.Restart();
            _lowRank?.Restart();
            stepSize = _kernel.FindReasonableStepSize(rng, state, new NutsParameters(stepSize, metric));
            _stepSize.Mu = Math.Log(10 * stepSize);
            _stepSize.Restart();
        }
        _schedule.Advance();
        _parameters = new NutsParameters(stepSize, metric);
        return _parameters;
    }

    /// <summary>
    /// The parameters for sampling (Stan's <c>complete_adaptation</c>): the averaged step size exp(x̄) and the last
    /// metric; without warmup, those of <see cref="Init"/>.
    /// </summary>
    public NutsParameters Final() =>
        _numWarmup == 0 ? _parameters : _parameters with { StepSize = _stepSize.FinalStepSize };
}
