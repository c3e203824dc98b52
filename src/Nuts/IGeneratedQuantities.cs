namespace Bnn.Onnx.Nuts;

/// <summary>
/// Per-draw quantities computed from the unconstrained position θ (e.g. the posterior predictive mean at the
/// training inputs). One instance per chain; need not be thread-safe.
/// </summary>
internal interface IGeneratedQuantities
{
    /// <summary>The names of the values <see cref="Compute"/> writes, in order.</summary>
    IReadOnlyList<string> Names { get; }

    void Compute(ReadOnlySpan<double> position, Span<double> values);
}
