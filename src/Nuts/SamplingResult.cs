namespace Bnn.Onnx.Nuts;

/// <summary>The outcome of <see cref="Sampler.Run"/>; draws went to the sink.</summary>
internal sealed record SamplingResult(
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
    /// Whether the run did not explore the posterior at all: at least <see cref="FailedDivergenceShare"/> of the
    /// post-warmup transitions (or, with no post-warmup draws, of the warmup transitions) diverged. Null otherwise.
    /// Such runs come from a bad initialisation or a badly scaled posterior.
    /// </summary>
    public SamplingFailure? Failure()
    {
        long draws = Chains.Sum(c => (long)c.DrawsCompleted);
        long warmup = Chains.Sum(c => (long)c.WarmupIterationsCompleted);
        long divergent = draws > 0 ? Divergences : Chains.Sum(c => (long)c.WarmupDivergences);
        long transitions = draws > 0 ? draws : warmup;
        if (transitions == 0 || divergent < FailedDivergenceShare * transitions) return null;
        return new SamplingFailure(divergent, transitions, PostWarmup: draws > 0, Chains.Select(c => c.StepSize).ToArray());
    }

    /// <summary>Stan's sampler warnings (divergences, tree depth, E-BFMI) for this run.</summary>
    public IReadOnlyList<string> Warnings() =>
        StanWarnings.Sampler(Divergences, TreeDepthSaturations, Options.MaxTreeDepth, Chains.Select(c => c.Ebfmi).ToArray());
}
