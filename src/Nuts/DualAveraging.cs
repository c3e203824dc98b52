namespace Bnn.Onnx.Nuts;

/// <summary>
/// Nesterov dual averaging of log ε towards a target acceptance statistic δ (Hoffman &amp; Gelman 2014, §3.2.1;
/// Stan's <c>stepsize_adaptation</c>). Defaults δ = 0.8, γ = 0.05, t₀ = 10, κ = 0.75.
/// </summary>
internal sealed class DualAveraging(double targetAccept = 0.8, double gamma = 0.05, double t0 = 10, double kappa = 0.75)
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
