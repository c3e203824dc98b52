using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.Nuts;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Pipeline;

/// <summary>How each chain's starting point is chosen.</summary>
internal enum InitStrategy
{
    /// <summary>A draw from the priors (the default; NumPyro's <c>init_to_sample</c>).</summary>
    Prior,

    /// <summary>Uniform(−2, 2) on the unconstrained scale (Stan's default).</summary>
    Uniform,

    /// <summary>The file's trained weights, σ from the residuals, each chain jittered slightly.</summary>
    Onnx,
}

/// <summary>Everything <c>bnn sample</c> was asked to do (immutable).</summary>
internal sealed record SampleSettings
{
    public required string ModelPath { get; init; }
    public required string DataPath { get; init; }
    public required string OutDir { get; init; }
    public IReadOnlyList<string>? Features { get; init; }
    public string? Target { get; init; }
    public LikelihoodKind Likelihood { get; init; } = LikelihoodKind.Normal;
    public double? Sigma { get; init; }
    /// <summary>c of <c>--prior-scale</c>; <see cref="PriorScaling"/> says how it sets each parameter's prior.</summary>
    public double PriorScale { get; init; } = 1.0;
    public PriorScaling PriorScaling { get; init; } = PriorScaling.Fixed;
    public IReadOnlyList<string> Priors { get; init; } = [];

    /// <summary>Sizes of the model input's symbolic non-batch dimensions by name (<c>--input-shape seq=5</c>).</summary>
    public IReadOnlyDictionary<string, int> InputDimensions { get; init; } = new Dictionary<string, int>();

    /// <summary>Which weights are sampled and which frozen (<c>--freeze</c>, <c>--sample</c>); everything by default.</summary>
    public ParameterSelection Selection { get; init; } = ParameterSelection.Everything;

    public SamplerOptions Sampler { get; init; } = new();

    /// <summary>
    /// <c>--chain-ids</c>: sample only these chains of the run's <see cref="SamplerOptions.Chains"/> (0-based, as
    /// <c>draws.parquet</c>'s <c>chain</c> column numbers them); each gets the draws it has in the full run. Null: all.
    /// </summary>
    public IReadOnlyList<int>? ChainIds { get; init; }
    public InitStrategy Init { get; init; } = InitStrategy.Prior;

    /// <summary>
    /// <c>--integrate-output</c>: the final affine layer integrated out exactly (<see cref="PosteriorModel.CreateIntegrated"/>);
    /// its weights are drawn from their conditional at every saved draw.
    /// </summary>
    public bool IntegrateOutput { get; init; }
    public BackendKind Backend { get; init; } = BackendKind.Auto;
    public string Device { get; init; } = "cpu";
    public ComputePrecision Precision { get; init; } = ComputePrecision.Float64;

    /// <summary>Threads per chain's gradient on the compiled backend (<c>--threads-per-chain</c>); null: the spare cores.</summary>
    public int? ThreadsPerChain { get; init; }

    /// <summary>How many data rows the predictive mean (the convergence verdict's quantity) is tracked at.</summary>
    public int PredictivePoints { get; init; } = 100;

    /// <summary>Whether the CLI draws a live progress display (off when output is redirected); the library ignores it.</summary>
    public bool LiveProgress { get; init; } = true;

    public string CommandLine { get; init; } = "";
}
