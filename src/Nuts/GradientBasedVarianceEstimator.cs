namespace Bnn.Onnx.Nuts;

/// <summary>
/// nutpie's diagonal estimate from draws and their gradients (Seyboldt et al.): M⁻¹ᵢᵢ = sqrt(Var[θᵢ] / Var[∂ᵢ log p]),
/// exact for a Gaussian target from a single window. Raw: <see cref="MetricRegularizer"/> shrinks it like Stan's.
/// </summary>
internal sealed class GradientBasedVarianceEstimator(int dimension) : IMetricEstimator
{
    /// <summary>Bounds of one raw value, so that a near-constant gradient cannot give an unusable metric.</summary>
    public const double MinValue = 1e-10, MaxValue = 1e10;

    private readonly WelfordEstimator _positions = new(dimension, dense: false);
    private readonly WelfordEstimator _gradients = new(dimension, dense: false);

    public int Dimension => dimension;

    public bool Dense => false;

    public long Count => _positions.Count;

    public void Add(NutsState state)
    {
        _positions.Add(state.Position);
        _gradients.Add(state.Gradient);
    }

    /// <summary>
    /// sqrt(Var[θᵢ] / Var[∂ᵢ log p]) clamped to [<see cref="MinValue"/>, <see cref="MaxValue"/>]; Var[θᵢ] (or 1) where
    /// the ratio is not a positive number (a constant gradient or position); NaN where either variance is not finite.
    /// </summary>
    public double[] Estimate()
    {
        var positions = _positions.Estimate();
        var gradients = _gradients.Estimate();
        var estimate = new double[dimension];
        for (int i = 0; i < dimension; i++)
        {
            double varQ = positions[i], varG = gradients[i];
            if (!double.IsFinite(varQ) || !double.IsFinite(varG))
            {
                estimate[i] = double.NaN;
                continue;
            }
            double ratio = Math.Sqrt(varQ / varG);
            if (!double.IsFinite(ratio) || ratio <= 0) ratio = varQ > 0 ? varQ : 1.0;
            estimate[i] = Math.Clamp(ratio, MinValue, MaxValue);
        }
        return estimate;
    }

    public void Restart()
    {
        _positions.Restart();
        _gradients.Restart();
    }
}
