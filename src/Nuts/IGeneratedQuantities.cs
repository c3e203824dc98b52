namespace Bnn.Onnx.Nuts;

/// <summary>
/// Per-draw quantities computed from the unconstrained position θ (e.g. the posterior predictive mean at the
/// training inputs). One instance per chain; need not be thread-safe.
/// </summary>
internal interface IGeneratedQuantities
{
    /// <summary>The names of the values <see cref="Compute(ReadOnlySpan{double}, Span{double})"/> writes, in order.</summary>
    IReadOnlyList<string> Names { get; }

    void Compute(ReadOnlySpan<double> position, Span<double> values);

    /// <summary>
    /// As <see cref="Compute(ReadOnlySpan{double}, Span{double})"/>, for quantities that are themselves random (a draw
    /// from a conditional distribution given θ): <paramref name="rng"/> is the chain's own stream, so the values are
    /// the same whatever the threads. The driver calls this one once per saved draw, right after the transition.
    /// </summary>
    void Compute(ReadOnlySpan<double> position, Rng rng, Span<double> values) => Compute(position, values);
}
