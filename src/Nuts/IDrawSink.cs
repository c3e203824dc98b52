namespace Bnn.Onnx.Nuts;

/// <summary>
/// Receives post-warmup draws as the sampler produces them (draws are streamed, never all held in memory).
/// <paramref name="constrained"/> holds the reported values (σ, not log σ) in <see cref="ParameterLayout"/> order.
/// Chains may call from different threads; an implementation that is not thread-safe must say so, and the
/// driver then serialises calls. <see cref="Complete"/> is called once, also after an interruption.
/// </summary>
internal interface IDrawSink
{
    void Write(int chain, int draw, in SamplerStats stats, ReadOnlySpan<double> constrained);

    /// <summary>No more draws follow; <paramref name="interrupted"/> when the run stopped early.</summary>
    void Complete(bool interrupted);
}
