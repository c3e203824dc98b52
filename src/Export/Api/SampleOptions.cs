namespace Bnn.Onnx;

/// <summary>
/// How <see cref="BnnModel.Sample"/> samples: the options of <c>bnn sample</c> that a library caller needs, with the
/// same defaults (4 chains × 1000 warmup + 1000 draws, N(0, 1) priors, Stan's adaptation). Immutable.
/// </summary>
public sealed record SampleOptions
{
    /// <summary>Number of chains [4].</summary>
    public int Chains { get; init; } = 4;

    /// <summary>Warmup iterations per chain [1000].</summary>
    public int Warmup { get; init; } = 1000;

    /// <summary>Post-warmup draws per chain [1000].</summary>
    public int Draws { get; init; } = 1000;

    /// <summary>The run seed; null: a random one, recorded in <c>run.json</c>. The same seed gives the same draws, bit for bit.</summary>
    public ulong? Seed { get; init; }

    /// <summary>The run directory to write; null: a new folder under the system's temporary folder.</summary>
    public string? OutputDirectory { get; init; }

    /// <summary>The observation model [normal].</summary>
    public ModelLikelihood Likelihood { get; init; } = ModelLikelihood.Normal;

    /// <summary>A fixed noise scale for the normal likelihood; null: σ is sampled (LogNormal(0, 1) prior).</summary>
    public double? Sigma { get; init; }

    /// <summary>
    /// The default prior on the weights, as <c>bnn sample --prior-scale</c> reads it: <c>"C"</c> for Normal(0, C²) on
    /// every parameter, <c>"fan-in[:C]"</c> for Normal(0, C²/fan_in) on weight tensors, <c>"hierarchical[:C]"</c> for a
    /// sampled scale per weight tensor ["1"].
    /// </summary>
    public string PriorScale { get; init; } = "1";

    /// <summary>Per-parameter overrides, e.g. <c>"2.weight=normal(0,3)"</c> (glob on the dotted name; last match wins).</summary>
    public IReadOnlyList<string> Priors { get; init; } = [];

    /// <summary>The dual-averaging target acceptance statistic (Stan's <c>adapt_delta</c>) [0.8].</summary>
    public double TargetAccept { get; init; } = 0.8;

    /// <summary>The maximum tree depth: a trajectory has at most 2^depth leapfrog steps [10].</summary>
    public int MaxTreeDepth { get; init; } = 10;

    /// <summary>The Euclidean metric [diagonal].</summary>
    public SamplerMetric Metric { get; init; } = SamplerMetric.Diagonal;

    /// <summary>How chains start [a draw from the priors].</summary>
    public ChainInitialization Initialization { get; init; } = ChainInitialization.Prior;

    /// <summary>
    /// Integrate the final affine layer out exactly (normal likelihood; <c>bnn sample --integrate-output</c>) [false]:
    /// NUTS samples the hidden weights and σ, and the output weights are drawn from their Gaussian conditional at every
    /// saved draw, so the draws still hold every weight.
    /// </summary>
    public bool IntegrateOutput { get; init; }

    /// <summary>Chains run at once, one core each; null: one per core.</summary>
    public int? MaxParallelChains { get; init; }
}

/// <summary>One chain's progress while sampling.</summary>
/// <param name="Chain">The chain, 0-based.</param>
/// <param name="Iteration">Iterations done, warmup included.</param>
/// <param name="TotalIterations">Warmup plus draws.</param>
/// <param name="Phase">Warmup, sampling or done.</param>
/// <param name="StepSize">The current step size ε.</param>
/// <param name="TreeDepth">The last transition's tree depth.</param>
/// <param name="Divergences">Divergent transitions so far.</param>
/// <param name="GradientEvaluations">Gradient evaluations so far.</param>
public readonly record struct SampleProgress(int Chain, int Iteration, int TotalIterations, SamplingPhase Phase, double StepSize,
    int TreeDepth, int Divergences, long GradientEvaluations);
