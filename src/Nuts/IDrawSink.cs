namespace Bnn.Onnx.Nuts;

/// <summary>
/// Per-draw sampler diagnostics, with Stan's names and meanings:
/// <c>lp__</c> (log density at the draw, up to a constant, Jacobian included), <c>accept_stat__</c>,
/// <c>stepsize__</c>, <c>treedepth__</c>, <c>n_leapfrog__</c>, <c>divergent__</c>, <c>energy__</c> (the Hamiltonian).
/// </summary>
public readonly record struct SamplerStats(
    double LogDensity,
    double AcceptStat,
    double StepSize,
    int TreeDepth,
    int LeapfrogSteps,
    bool Divergent,
    double Energy)
{
    /// <summary>The column names, in the order draws files store them.</summary>
    public static readonly IReadOnlyList<string> ColumnNames =
        ["lp__", "accept_stat__", "stepsize__", "treedepth__", "n_leapfrog__", "divergent__", "energy__"];
}

/// <summary>
/// Receives post-warmup draws as the sampler produces them (draws are streamed, never all held in memory).
/// <paramref name="constrained"/> holds the reported values (σ, not log σ) in <see cref="ParameterLayout"/> order.
/// Chains may call from different threads; an implementation that is not thread-safe must say so, and the
/// driver then serialises calls. <see cref="Complete"/> is called once, also after an interruption.
/// </summary>
public interface IDrawSink
{
    void Write(int chain, int draw, in SamplerStats stats, ReadOnlySpan<double> constrained);

    /// <summary>No more draws follow; <paramref name="interrupted"/> when the run stopped early.</summary>
    void Complete(bool interrupted);
}
