namespace Bnn.Onnx.Nuts;

/// <summary>How warmup estimates the metric.</summary>
internal enum MetricAdaptation
{
    /// <summary>Stan's windowed Welford (co)variance of the draws, regularised (the default).</summary>
    Stan,

    /// <summary>
    /// Optional, diagonal only: nutpie-style estimate M⁻¹ᵢᵢ = sqrt(Var[θᵢ] / Var[∂ᵢ log p]) over each window's draws
    /// and their gradients (Seyboldt et al., nutpie). Same windows and regularisation as <see cref="Stan"/>.
    /// </summary>
    GradientBased,
}
