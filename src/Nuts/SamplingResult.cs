namespace Bnn.Onnx.Nuts;

/// <summary>Where a chain is.</summary>
public enum SamplerPhase
{
    Warmup,
    Sampling,
    Done,
}

/// <summary>A progress report of one chain (sent at most every 100 ms per chain, plus at phase changes and the end).</summary>
public readonly record struct ChainProgress(
    int Chain,
    int Iteration,
    int TotalIterations,
    SamplerPhase Phase,
    double StepSize,
    int TreeDepth,
    int Divergences,
    long GradientEvaluations);

/// <summary>
/// Per-draw quantities computed from the unconstrained position θ (e.g. the posterior predictive mean at the
/// training inputs). One instance per chain; need not be thread-safe.
/// </summary>
public interface IGeneratedQuantities
{
    /// <summary>The names of the values <see cref="Compute"/> writes, in order.</summary>
    IReadOnlyList<string> Names { get; }

    void Compute(ReadOnlySpan<double> position, Span<double> values);
}

/// <summary>
/// Optionally implemented by an <see cref="IDrawSink"/> that also stores generated quantities; the driver calls
/// <see cref="WriteGenerated"/> right after <see cref="IDrawSink.Write"/> for the same (chain, draw).
/// </summary>
public interface IGeneratedQuantitySink
{
    void WriteGenerated(int chain, int draw, ReadOnlySpan<double> values);
}

/// <summary>What one chain did.</summary>
/// <param name="StepSize">ε after warmup.</param>
/// <param name="InverseMassDiagonal">diag(M⁻¹) after warmup.</param>
/// <param name="InverseMassDense">M⁻¹ row-major for a dense metric, else null.</param>
/// <param name="Ebfmi">Energy Bayesian fraction of missing information over the draws (mean of squared energy
/// differences over the energy variance, as ArviZ and CmdStanPy compute it); NaN with fewer than 2 draws.</param>
public sealed record ChainResult(
    int Chain,
    double[] InitialPosition,
    double StepSize,
    double[] InverseMassDiagonal,
    double[]? InverseMassDense,
    long GradientEvaluationsWarmup,
    long GradientEvaluationsSampling,
    double WarmupSeconds,
    double SamplingSeconds,
    int WarmupIterationsCompleted,
    int DrawsCompleted,
    int WarmupDivergences,
    int Divergences,
    int TreeDepthSaturations,
    double Ebfmi,
    double MeanAcceptStat);

/// <summary>The outcome of <see cref="Sampler.Run"/>; draws went to the sink.</summary>
public sealed record SamplingResult(
    SamplerOptions Options,
    IReadOnlyList<ChainResult> Chains,
    bool Interrupted,
    double WarmupSeconds,
    double SamplingSeconds,
    double TotalSeconds)
{
    public long GradientEvaluationsWarmup => Chains.Sum(c => c.GradientEvaluationsWarmup);
    public long GradientEvaluationsSampling => Chains.Sum(c => c.GradientEvaluationsSampling);

    /// <summary>Post-warmup divergent transitions, all chains.</summary>
    public int Divergences => Chains.Sum(c => c.Divergences);

    /// <summary>Post-warmup transitions that hit the maximum tree depth, all chains.</summary>
    public int TreeDepthSaturations => Chains.Sum(c => c.TreeDepthSaturations);

    /// <summary>The share of transitions that must diverge for <see cref="Failure"/> to call the run failed.</summary>
    public const double FailedDivergenceShare = 0.9;

    /// <summary>
    /// A diagnosis when the run did not explore the posterior at all: at least 90% of the post-warmup transitions
    /// (or, with no post-warmup draws, of the warmup transitions) diverged. Null otherwise. The message names the
    /// adapted step sizes and what to try, since such runs come from a bad initialisation or a badly scaled posterior.
    /// </summary>
    public string? Failure()
    {
        long draws = Chains.Sum(c => (long)c.DrawsCompleted);
        long warmup = Chains.Sum(c => (long)c.WarmupIterationsCompleted);
        long divergent = draws > 0 ? Divergences : Chains.Sum(c => (long)c.WarmupDivergences);
        long transitions = draws > 0 ? draws : warmup;
        if (transitions == 0 || divergent < FailedDivergenceShare * transitions) return null;
        var stepSizes = string.Join(", ", Chains.Select(c => c.StepSize.ToString("G3", System.Globalization.CultureInfo.InvariantCulture)));
        return $"sampling failed: {divergent:N0} of {transitions:N0} {(draws > 0 ? "post-warmup" : "warmup")} transitions diverged " +
               $"(adapted step sizes {stepSizes}); the sampler could not move from its starting points. " +
               "Try --init onnx (start at the trained weights) or --init uniform, a longer --warmup, a higher --target-accept, " +
               "a smaller --prior-scale, or standardise the data.";
    }

    /// <summary>Stan's sampler warnings (divergences, tree depth, E-BFMI) for this run.</summary>
    public IReadOnlyList<string> Warnings() =>
        StanWarnings.Sampler(Divergences, TreeDepthSaturations, Options.MaxTreeDepth, Chains.Select(c => c.Ebfmi).ToArray());
}
