namespace Bnn.Onnx.Nuts;

/// <summary>
/// A log density evaluated at C positions in one call (lockstep chains on a batched backend).
/// Positions and gradients are C × d, row-major: chain c occupies [c·d, (c+1)·d).
/// </summary>
internal interface IBatchedLogDensity
{
    int Dimension { get; }

    /// <summary>The largest C one call accepts.</summary>
    int MaxBatch { get; }

    /// <summary>Writes log p(θ_c) into <paramref name="logDensities"/>[c] and ∇ log p(θ_c) into row c of <paramref name="gradients"/>.</summary>
    void LogDensityAndGradient(int count, ReadOnlySpan<double> positions, Span<double> logDensities, Span<double> gradients);
}
