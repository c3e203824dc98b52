namespace Bnn.Onnx.Pipeline;

/// <summary>A convergence verdict and the reason for it.</summary>
/// <param name="WorstRhat">The largest R-hat among the deciding rows.</param>
/// <param name="WorstEssBulk">The smallest bulk-ESS among the deciding rows.</param>
/// <param name="WorstEssTail">The smallest tail-ESS among the deciding rows.</param>
internal sealed record ConvergenceVerdict(bool Converged, string Reason, double WorstRhat, double WorstEssBulk, double WorstEssTail, string? WorstVariable);
