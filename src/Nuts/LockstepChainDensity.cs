namespace Bnn.Onnx.Nuts;

/// <summary>Chain <c>chain</c>'s view of a <see cref="LockstepCoordinator"/>.</summary>
internal sealed class LockstepChainDensity(LockstepCoordinator coordinator, int chain) : ILogDensity
{
    public int Dimension => coordinator.Dimension;

    public double LogDensityAndGradient(ReadOnlySpan<double> position, Span<double> gradient) =>
        coordinator.Evaluate(chain, position, gradient);
}
