namespace Bnn.Onnx.Nuts;

/// <summary>Diagonal M⁻¹ = diag(<see cref="InverseMass"/>).</summary>
internal sealed class DiagonalMetric : EuclideanMetric
{
    private readonly double[] _sqrtMass;

    public DiagonalMetric(double[] inverseMass) : base(inverseMass.Length)
    {
        foreach (double v in inverseMass)
            if (!(v > 0) || !double.IsFinite(v))
                throw new ArgumentException("the inverse mass diagonal must be positive and finite");
        InverseMass = (double[])inverseMass.Clone();
        _sqrtMass = InverseMass.Select(v => 1.0 / Math.Sqrt(v)).ToArray();
    }

    /// <summary>diag(M⁻¹).</summary>
    public double[] InverseMass { get; }

    public override void SampleMomentum(Rng rng, Span<double> momentum)
    {
        for (int i = 0; i < momentum.Length; i++) momentum[i] = rng.NextNormal() * _sqrtMass[i];
    }

    public override void Velocity(ReadOnlySpan<double> momentum, Span<double> velocity) =>
        VectorMath.Multiply(momentum, InverseMass, velocity);

    public override double[] InverseMassDiagonal() => (double[])InverseMass.Clone();

    public override double[]? InverseMassDense() => null;
}
