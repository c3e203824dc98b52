namespace Bnn.Onnx.Nuts;

/// <summary>
/// A point in phase space (θ, p) with ∇ log p(θ), log p(θ) and the velocity v = M⁻¹ p cached (Stan's <c>ps_point</c>).
/// </summary>
internal sealed class PhasePoint
{
    public readonly double[] Position, Momentum, Gradient, Velocity;
    public double LogDensity;

    public PhasePoint(int d)
    {
        Position = new double[d];
        Momentum = new double[d];
        Gradient = new double[d];
        Velocity = new double[d];
    }

    public void CopyFrom(PhasePoint other)
    {
        other.Position.AsSpan().CopyTo(Position);
        other.Momentum.AsSpan().CopyTo(Momentum);
        other.Gradient.AsSpan().CopyTo(Gradient);
        other.Velocity.AsSpan().CopyTo(Velocity);
        LogDensity = other.LogDensity;
    }

    /// <summary>H(θ, p) = −log p(θ) + ½ pᵀ M⁻¹ p.</summary>
    public double Hamiltonian => -LogDensity + EuclideanMetric.KineticEnergy(Momentum, Velocity);
}
