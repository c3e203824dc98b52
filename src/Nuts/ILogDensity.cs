namespace Bnn.Onnx.Nuts;

/// <summary>
/// An unnormalised log density log p(θ) over ℝ^d and its gradient, the only thing the sampler knows of a model.
/// Implementations need not be thread-safe: the sampler gives each chain its own instance.
/// </summary>
internal interface ILogDensity
{
    /// <summary>d, the length of the position vector θ.</summary>
    int Dimension { get; }

    /// <summary>
    /// Returns log p(θ) and writes ∇ log p(θ) into <paramref name="gradient"/> (length d).
    /// May return NaN or ±∞; the sampler treats a non-finite value as a divergence, never as an error.
    /// </summary>
    double LogDensityAndGradient(ReadOnlySpan<double> position, Span<double> gradient);
}
