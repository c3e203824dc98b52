using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.Nuts;
using Bnn.Onnx.OnnxImport;
using Bnn.Onnx.Pipeline;

namespace Bnn.Onnx;

/// <summary>Which weights of an imported model are sampled; every weight by default.</summary>
public sealed record ModelImportOptions
{
    /// <summary>
    /// Globs on the dotted parameter names (<c>conv*</c>) whose weights are held at their trained values, with no prior
    /// (<c>bnn sample --freeze</c>). The part of the network that depends on no sampled weight runs once on ONNX Runtime.
    /// </summary>
    public IReadOnlyList<string> Freeze { get; init; } = [];

    /// <summary>Globs of the only weights to sample (<c>bnn sample --sample</c>); every other weight is frozen.</summary>
    public IReadOnlyList<string> Sample { get; init; } = [];
}

/// <summary>One parameter tensor of the network, as <c>bnn import</c> lists it.</summary>
/// <param name="Name">The tree name: the initializer's name split on <c>.</c> and <c>/</c> (<c>0.weight</c>, <c>encoder.0.bias</c>).</param>
/// <param name="OnnxName">The initializer's name in the ONNX file.</param>
/// <param name="Shape">The tensor's dimensions.</param>
/// <param name="Size">Scalars in the tensor (the product of <paramref name="Shape"/>).</param>
public sealed record ModelParameter(string Name, string OnnxName, IReadOnlyList<int> Shape, int Size);

/// <summary>
/// A trained network read from an ONNX file, ready to have the posterior over its weights sampled: the library's
/// <c>bnn import</c> then <c>bnn sample</c>. Immutable; the file is read again when sampling.
/// </summary>
/// <example>
/// <code>
/// var model = BnnModel.Import("model.onnx");
/// var run = model.Sample(DataTable.FromCsv("train.csv", target: "y"), new SampleOptions { Chains = 4, Seed = 1, OutputDirectory = "runs/a" });
/// </code>
/// </example>
public sealed class BnnModel
{
    private readonly OnnxGraph _graph;
    private readonly ParameterSelection _selection;

    private BnnModel(string path, OnnxGraph graph, ParameterSelection selection, IReadOnlyList<ModelParameter> parameters, long frozenValues)
    {
        Path = path;
        _graph = graph;
        _selection = selection;
        Parameters = parameters;
        FrozenParameterCount = frozenValues;
    }

    /// <summary>
    /// Reads <paramref name="path"/> and checks that it can be sampled: every op of the sampled part is supported, the
    /// weights are found. Throws <see cref="FileNotFoundException"/> for a missing file, <see cref="IOException"/> (with
    /// the node and the reason) for a file that cannot be imported, and <see cref="ArgumentException"/> for a selection
    /// that matches nothing or leaves nothing to sample.
    /// </summary>
    /// <param name="path">The ONNX file (PyTorch's <c>torch.onnx.export</c>, or Flax through jax2onnx).</param>
    /// <param name="options">Which weights to sample; null samples every weight.</param>
    public static BnnModel Import(string path, ModelImportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"model file not found: {path}", path);
        var selection = options is null ? ParameterSelection.Everything : FrozenHead.Selection([.. options.Freeze], [.. options.Sample]);
        var graph = FrozenHead.Import(path, selection);
        IReadOnlyList<Parameter> sampled = graph.Parameters;
        long frozen = 0;
        if (!selection.IsEverything)
        {
            var cut = FrozenHead.Cut(graph, selection);
            sampled = cut.Sampled;
            frozen = cut.FrozenValues;
        }
        var parameters = sampled.Select(p => new ModelParameter(p.Name, p.OnnxName, p.Shape.ToArray(), p.Size)).ToArray();
        return new BnnModel(System.IO.Path.GetFullPath(path), graph, selection, parameters, frozen);
    }

    /// <summary>The ONNX file (full path).</summary>
    public string Path { get; }

    /// <summary>The sampled parameter tensors in graph order (with <see cref="ModelImportOptions.Freeze"/>: the head's only).</summary>
    public IReadOnlyList<ModelParameter> Parameters { get; }

    /// <summary>Scalars sampled: the sum of the <see cref="Parameters"/>' sizes (σ and prior scales come on top).</summary>
    public int ParameterCount => Parameters.Sum(p => p.Size);

    /// <summary>Scalars held at their trained values (0 unless weights are frozen).</summary>
    public long FrozenParameterCount { get; }

    /// <summary>The ONNX producer recorded in the file (<c>pytorch</c>, <c>jax2onnx</c>, …).</summary>
    public string Producer => _graph.Producer;

    /// <summary>
    /// The squashing node the network's first output ends in that <paramref name="likelihood"/> reads through (a final
    /// Sigmoid for bernoulli, Softmax or LogSoftmax over the classes for categorical); <see cref="ModelHead.None"/> otherwise.
    /// </summary>
    public ModelHead OutputHead(ModelLikelihood likelihood)
    {
        var reading = likelihood switch
        {
            ModelLikelihood.Bernoulli => OutputReading.Logit,
            ModelLikelihood.Categorical => OutputReading.ClassLogits,
            _ => OutputReading.Value,
        };
        return OutputHeads.Detect(_graph, reading).Head switch
        {
            OnnxImport.OutputHead.Sigmoid => ModelHead.Sigmoid,
            OnnxImport.OutputHead.Softmax => ModelHead.Softmax,
            OnnxImport.OutputHead.LogSoftmax => ModelHead.LogSoftmax,
            _ => ModelHead.None,
        };
    }

    /// <summary>
    /// Samples the posterior over the weights with NUTS and writes the run directory
    /// (<see cref="SampleOptions.OutputDirectory"/>): <c>draws.parquet</c>, <c>summary.csv</c>, <c>predictive.csv</c>
    /// and <c>run.json</c>, exactly as <c>bnn sample</c> writes them (same seed, same draws). Every input is checked
    /// before sampling starts: a bad option throws <see cref="ArgumentException"/>, bad data
    /// <see cref="InvalidDataException"/>.
    /// </summary>
    /// <param name="data">The training rows.</param>
    /// <param name="options">Chains, iterations, seed, priors; null: the defaults (4 chains × 1000 + 1000, a random seed).</param>
    /// <param name="progress">Receives each chain's progress (at most every 100 ms per chain, and at phase changes).</param>
    /// <param name="cancellationToken">
    /// Stops sampling after the current iteration; the draws so far are written (status <c>interrupted</c>, readable
    /// with <see cref="PosteriorRun.Open"/>) and <see cref="OperationCanceledException"/> is thrown.
    /// </param>
    /// <returns>The finished run; sampling that ran but failed (nearly every transition diverged) is reported in <see cref="PosteriorRun.Diagnostics"/>.</returns>
    public PosteriorRun Sample(DataTable data, SampleOptions? options = null, IProgress<SampleProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        options ??= new SampleOptions();
        string outDir = options.OutputDirectory
            ?? System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"bnn-run-{Guid.NewGuid():N}");
        Directory.CreateDirectory(outDir);
        var (scaling, scale) = UserInput.Validated(() => PriorOptions.ParseScale(options.PriorScale));
        var settings = new SampleSettings
        {
            ModelPath = Path,
            DataPath = data.FileFor(outDir),
            OutDir = outDir,
            Features = data.Features,
            Target = data.Target,
            Likelihood = options.Likelihood switch
            {
                ModelLikelihood.Bernoulli => LikelihoodKind.Bernoulli,
                ModelLikelihood.Categorical => LikelihoodKind.Categorical,
                _ => LikelihoodKind.Normal,
            },
            Sigma = options.Sigma,
            PriorScale = scale,
            PriorScaling = scaling,
            Priors = [.. options.Priors],
            Selection = _selection,
            IntegrateOutput = options.IntegrateOutput,
            Sampler = new SamplerOptions
            {
                Chains = options.Chains,
                Warmup = options.Warmup,
                Draws = options.Draws,
                Seed = options.Seed ?? (ulong)Random.Shared.NextInt64(1, int.MaxValue),
                TargetAccept = options.TargetAccept,
                MaxTreeDepth = options.MaxTreeDepth,
                Metric = options.Metric switch { SamplerMetric.Dense => MetricKind.Dense, SamplerMetric.LowRank => MetricKind.LowRank, _ => MetricKind.Diagonal },
                MaxParallelism = options.MaxParallelChains,
            },
            Init = options.Initialization switch
            {
                ChainInitialization.Uniform => InitStrategy.Uniform,
                ChainInitialization.Onnx => InitStrategy.Onnx,
                _ => InitStrategy.Prior,
            },
            LiveProgress = false,
            CommandLine = "",
        };
        var monitor = new SilentMonitor(progress is null ? null : new ProgressAdapter(progress));
        var outcome = SampleRun.Execute(settings, TextWriter.Null, _ => monitor, cancellationToken);
        if (outcome.Interrupted) throw new OperationCanceledException($"sampling was cancelled; the draws so far are in {outDir}", cancellationToken);
        return PosteriorRun.Open(outDir);
    }

    /// <summary>Turns the sampler's per-chain reports into <see cref="SampleProgress"/>.</summary>
    private sealed class ProgressAdapter(IProgress<SampleProgress> target) : IProgress<ChainProgress>
    {
        public void Report(ChainProgress value) => target.Report(new SampleProgress(value.Chain, value.Iteration, value.TotalIterations,
            value.Phase switch { SamplerPhase.Warmup => SamplingPhase.Warmup, SamplerPhase.Sampling => SamplingPhase.Sampling, _ => SamplingPhase.Done },
            value.StepSize, value.TreeDepth, value.Divergences, value.GradientEvaluations));
    }
}
