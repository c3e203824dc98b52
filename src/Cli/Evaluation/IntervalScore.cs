namespace Bnn.Onnx.Cli.Evaluation;

/// <summary>The coverage and mean width of one central predictive interval.</summary>
/// <param name="Level">The nominal probability l of the interval [F⁻¹((1 − l)/2), F⁻¹((1 + l)/2)].</param>
/// <param name="Coverage">The fraction of held-out targets inside their row's interval.</param>
/// <param name="MeanWidth">The interval's width averaged over rows.</param>
internal sealed record IntervalScore(double Level, double Coverage, double MeanWidth);
