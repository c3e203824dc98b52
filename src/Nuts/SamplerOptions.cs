namespace Bnn.Onnx.Nuts;

/// <summary>
/// Settings of a sampling run (immutable). Defaults are Stan's: 4 chains, 1000 warmup + 1000 draws, target acceptance
/// 0.8, max tree depth 10, diagonal metric, windows 75 / 25 / 50, dual averaging γ = 0.05, t₀ = 10, κ = 0.75.
/// </summary>
internal sealed record SamplerOptions
{
    public int Chains { get; init; } = 4;

    /// <summary>Warmup (adaptation) iterations per chain; not written to the sink.</summary>
    public int Warmup { get; init; } = 1000;

    /// <summary>Post-warmup draws per chain.</summary>
    public int Draws { get; init; } = 1000;

    /// <summary>The run seed; chain c draws from <see cref="Rng.ForChain"/>(Seed, <see cref="ChainId"/>(c)).</summary>
    public ulong Seed { get; init; }

    /// <summary>
    /// Which chains of a larger run these <see cref="Chains"/> chains are (0-based, one per chain, distinct): chain c
    /// draws from the stream of chain <c>ChainIds[c]</c>, so a subset reproduces those chains of the full run bit for
    /// bit. Null: chains 0 … <see cref="Chains"/> − 1.
    /// </summary>
    public IReadOnlyList<int>? ChainIds { get; init; }

    /// <summary>The run's number for chain <paramref name="chain"/> (its random stream): <see cref="ChainIds"/>[chain], else chain.</summary>
    public int ChainId(int chain) => ChainIds is { } ids ? ids[chain] : chain;

    /// <summary>δ, the dual averaging target for the acceptance statistic (Stan's <c>adapt_delta</c>).</summary>
    public double TargetAccept { get; init; } = 0.8;

    public int MaxTreeDepth { get; init; } = 10;

    public MetricKind Metric { get; init; } = MetricKind.Diagonal;

    public MetricAdaptation MetricAdaptation { get; init; } = MetricAdaptation.Stan;

    /// <summary>Chains run at once on their own threads; null: one per core, at most <see cref="Chains"/>.</summary>
    public int? MaxParallelism { get; init; }

    /// <summary>ε₀ before the step-size heuristic; dual averaging's μ is log(10 ε₀) as in Stan.</summary>
    public double InitialStepSize { get; init; } = 1.0;

    public int InitBuffer { get; init; } = 75;
    public int TermBuffer { get; init; } = 50;
    public int BaseWindow { get; init; } = 25;
    public double Gamma { get; init; } = 0.05;
    public double T0 { get; init; } = 10;
    public double Kappa { get; init; } = 0.75;

    /// <summary>Energy error above which a transition is divergent (Stan's 1000).</summary>
    public double MaxEnergyError { get; init; } = 1000;

    /// <summary>How many starts a chain tries before giving up on a non-finite log density.</summary>
    public int MaxInitAttempts { get; init; } = 100;

    /// <summary>Starts drawn uniform(−r, r) on the unconstrained scale when no initial position is given (Stan: 2).</summary>
    public double InitRadius { get; init; } = 2.0;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (Chains < 1) throw new ArgumentException($"chains must be at least 1, got {Chains}");
        if (Warmup < 0) throw new ArgumentException($"warmup must be 0 or more, got {Warmup}");
        if (Draws < 0) throw new ArgumentException($"draws must be 0 or more, got {Draws}");
        if (!(TargetAccept > 0 && TargetAccept < 1)) throw new ArgumentException($"target acceptance must be in (0, 1), got {TargetAccept}");
        if (MaxTreeDepth < 1 || MaxTreeDepth > 30) throw new ArgumentException($"max tree depth must be in 1..30, got {MaxTreeDepth}");
        if (ChainIds is { } ids && (ids.Count != Chains || ids.Any(i => i < 0) || ids.Distinct().Count() != ids.Count))
            throw new ArgumentException($"chain ids must be {Chains} distinct whole numbers from 0, got [{string.Join(", ", ids)}]");
        if (MaxParallelism is < 1) throw new ArgumentException($"max parallelism must be at least 1, got {MaxParallelism}");
        if (!(InitialStepSize > 0) || !double.IsFinite(InitialStepSize)) throw new ArgumentException($"initial step size must be positive, got {InitialStepSize}");
        if (InitBuffer < 0 || TermBuffer < 0 || BaseWindow < 1) throw new ArgumentException("adaptation windows must be non-negative (base window at least 1)");
        if (!(Gamma > 0) || !(T0 >= 0) || !(Kappa > 0 && Kappa <= 1)) throw new ArgumentException("dual averaging needs gamma > 0, t0 >= 0, 0 < kappa <= 1");
        if (!(MaxEnergyError > 0)) throw new ArgumentException($"max energy error must be positive, got {MaxEnergyError}");
        if (MaxInitAttempts < 1) throw new ArgumentException($"max init attempts must be at least 1, got {MaxInitAttempts}");
        if (!(InitRadius > 0)) throw new ArgumentException($"init radius must be positive, got {InitRadius}");
        if (MetricAdaptation == MetricAdaptation.GradientBased && Metric != MetricKind.Diagonal)
            throw new ArgumentException("gradient-based metric adaptation supports the diagonal metric only");
    }
}
