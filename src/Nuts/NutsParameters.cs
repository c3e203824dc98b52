namespace Bnn.Onnx.Nuts;

/// <summary>
/// What the kernel is tuned by (BlackJAX's <c>step_size</c> and <c>inverse_mass_matrix</c>): the leapfrog step
/// size ε and the Euclidean metric M⁻¹. Warmup adapts both; sampling keeps the final pair fixed.
/// The metric holds scratch buffers, so a parameters value belongs to one chain.
/// </summary>
internal sealed record NutsParameters(double StepSize, EuclideanMetric Metric);
