namespace Bnn.Onnx.Nuts;

/// <summary>
/// What one NUTS transition needs to carry to the next (BlackJAX's <c>HMCState</c>): the position θ,
/// log p(θ) and ∇ log p(θ). Immutable by convention: the kernel never writes into a state it was given.
/// </summary>
internal sealed record NutsState(double[] Position, double LogDensity, double[] Gradient);
