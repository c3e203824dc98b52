using Bnn.Onnx.Nuts;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.GraphToPotential;

/// <summary>
/// log p(θ | D) for an imported network: the layout of θ, the priors, the likelihood and where in the graph it reads.
/// <code>
/// log p(θ, u | D) = Σ_i log N(θ_i; μ_i, s_i²)                       parameters, graph order
///                 + [−½ log 2π − ½ u²]                              u = log σ, σ ~ LogNormal(0,1), + log-Jacobian u
///                 + Σ_n log p(y_n | f(x_n; θ), σ)                   see LogLikelihoods
/// </code>
/// All normalising constants are kept (see <see cref="LogLikelihoods"/>). Backends compute f and the likelihood;
/// the prior is computed here once for all of them (<see cref="LogPrior"/>).
/// </summary>
public sealed class PosteriorModel
{
    private readonly double[] _priorMean;
    private readonly double[] _priorInvVar;
    private readonly double _priorConstant;

    private PosteriorModel(OnnxGraph graph, PosteriorOptions options, DataSet data, ParameterLayout layout,
        IReadOnlyList<NormalPrior> priors, int[] inputSampleShape, int outputWidth, OutputHead head, string likelihoodValue)
    {
        Graph = graph;
        Options = options;
        Data = data;
        Layout = layout;
        Priors = priors;
        InputSampleShape = inputSampleShape;
        OutputWidth = outputWidth;
        Head = head;
        LikelihoodValue = likelihoodValue;

        ParameterDimension = graph.TotalParameters;
        _priorMean = new double[ParameterDimension];
        _priorInvVar = new double[ParameterDimension];
        int offset = 0;
        for (int p = 0; p < graph.Parameters.Count; p++)
        {
            var prior = priors[p];
            int size = graph.Parameters[p].Size;
            _priorMean.AsSpan(offset, size).Fill(prior.Mean);
            _priorInvVar.AsSpan(offset, size).Fill(1 / (prior.Scale * prior.Scale));
            _priorConstant += size * (-NormalPrior.HalfLogTwoPi - Math.Log(prior.Scale));
            offset += size;
        }
    }

    /// <summary>The graph, with its data input declared at the resolved <see cref="InputSampleShape"/> (batch kept symbolic).</summary>
    public OnnxGraph Graph { get; }
    public PosteriorOptions Options { get; }
    public DataSet Data { get; }

    /// <summary>θ: one block per <see cref="OnnxGraph.Parameters"/> entry in graph order (Name = parameter name, Source = ONNX name), then <c>sigma</c> (log transform) when sampled.</summary>
    public ParameterLayout Layout { get; }

    /// <summary>The prior of each graph parameter, in <see cref="OnnxGraph.Parameters"/> order.</summary>
    public IReadOnlyList<NormalPrior> Priors { get; }

    /// <summary>Number of network scalars: the position's prefix [0, ParameterDimension) holds the parameters in graph order.</summary>
    public int ParameterDimension { get; }

    /// <summary>Offset of u = log σ in the position, or −1 when σ is fixed or there is none.</summary>
    public int SigmaOffset => Options.SamplesSigma ? ParameterDimension : -1;

    /// <summary>The data input's name (the graph's single input); its axis 0 is the batch (row) axis.</summary>
    public string InputName => Graph.Inputs[0].Name;

    /// <summary>The data input's non-batch dimensions; their product is <see cref="DataSet.FeatureWidth"/>.</summary>
    public int[] InputSampleShape { get; }

    /// <summary>K: outputs per row of the value the likelihood reads (= per row of the graph output).</summary>
    public int OutputWidth { get; }

    /// <summary>The squashing node removed for the likelihood (<see cref="OutputHeads.Detect"/>).</summary>
    public OutputHead Head { get; }

    /// <summary>The graph value the likelihood reads: the graph's first output, or the input of its final Sigmoid/Softmax/LogSoftmax (<see cref="Head"/>).</summary>
    public string LikelihoodValue { get; }

    /// <summary>The graph output that predictions report.</summary>
    public string OutputName => Graph.Outputs[0].Name;

    /// <summary>
    /// Builds the posterior. Throws one-line <see cref="NotSupportedException"/> (graph shape not usable),
    /// <see cref="ArgumentException"/> (options) or <see cref="InvalidDataException"/> (data) otherwise.
    /// </summary>
    /// <param name="graph">The imported graph; its data input's symbolic non-batch dimensions are resolved (see <see cref="InputShape.Resolve"/>) and <see cref="Graph"/> declares them fixed.</param>
    /// <param name="options">Priors, likelihood and σ.</param>
    /// <param name="data">Features fill the input's non-batch dimensions in row-major order.</param>
    /// <param name="inputDimensions">Sizes of symbolic input dimensions by symbol (<c>seq</c> → 5); a single one left open takes its size from the feature count.</param>
    public static PosteriorModel Create(OnnxGraph graph, PosteriorOptions options, DataSet data, IReadOnlyDictionary<string, int>? inputDimensions = null)
    {
        options.Validate();
        if (graph.Inputs.Count != 1)
            throw new NotSupportedException($"model: the graph has {graph.Inputs.Count} data inputs ({string.Join(", ", graph.Inputs.Select(i => i.Name))}); one input with the batch on axis 0 is supported");
        if (graph.Outputs.Count < 1)
            throw new NotSupportedException("model: the graph has no output");
        if (graph.Parameters.Count == 0)
            throw new NotSupportedException("model: the graph has no parameters to place a posterior over");

        var input = graph.Inputs[0];
        InputShape inputShape;
        try
        {
            inputShape = InputShape.Resolve(input, inputDimensions, data.FeatureWidth);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"data: {data.FeatureWidth} feature columns: {ex.Message}", ex);
        }
        if (inputShape.SampleShape is not int[] sampleShape)
            throw new NotSupportedException($"model: input '{input.Name}' {inputShape.DeclaredText} has {inputShape.Unresolved.Count} dimensions of unknown size besides the batch ({string.Join(", ", inputShape.Unresolved)}); their sizes must be given");
        if (inputShape.Width != data.FeatureWidth)
            throw new InvalidDataException($"data: {data.FeatureWidth} feature columns, but model input '{input.Name}' {inputShape.DeclaredText} takes {inputShape.Width} per row");
        graph = inputShape.Bind(graph);

        var output = graph.Outputs[0];
        int outputWidth = GraphShapes.OutputWidth(graph, 0);

        var (head, likelihoodValue) = OutputHeads.Detect(graph, options.Likelihood.Reading());

        switch (options.Likelihood)
        {
            case LikelihoodKind.Normal:
                if (data.TargetWidth != outputWidth)
                    throw new InvalidDataException($"data: {data.TargetWidth} target columns, but model output '{output.Name}' has {outputWidth} values per row");
                break;
            case LikelihoodKind.Bernoulli:
                if (outputWidth != 1)
                    throw new NotSupportedException($"model: bernoulli needs a single logit per row, but output '{output.Name}' has {outputWidth}");
                if (data.TargetWidth != 1)
                    throw new InvalidDataException($"data: bernoulli needs one target column, got {data.TargetWidth}");
                data.ValidateBinary();
                break;
            case LikelihoodKind.Categorical:
                if (outputWidth < 2)
                    throw new NotSupportedException($"model: categorical needs at least 2 class logits per row, but output '{output.Name}' has {outputWidth}");
                if (data.TargetWidth != 1)
                    throw new InvalidDataException($"data: categorical needs one label column, got {data.TargetWidth}");
                data.ValidateLabels(outputWidth);
                break;
        }

        var names = graph.Parameters.Select(p => p.Name).ToArray();
        options.Priors.CheckAllOverridesMatch(names);
        var priors = names.Select(options.Priors.For).ToArray();

        var blocks = graph.Parameters.Select(p => (p.Name, p.Shape, BlockTransform.Identity, (string?)p.OnnxName)).ToList();
        if (options.SamplesSigma)
        {
            if (names.Contains(NoiseScale.Name))
                throw new NotSupportedException($"model: a parameter is named '{NoiseScale.Name}', which the normal likelihood's noise scale uses");
            blocks.Add((NoiseScale.Name, Array.Empty<int>(), BlockTransform.Log, null));
        }
        var layout = ParameterLayout.FromShapes(blocks);

        return new PosteriorModel(graph, options, data, layout, priors, sampleShape, outputWidth, head, likelihoodValue);
    }

    /// <summary>
    /// Σ log N(θ_i; μ_i, s_i²) + (when σ is sampled) −½ log 2π − ½ u², ADDING its gradient into <paramref name="gradient"/>
    /// (length <see cref="ParameterLayout.Dimension"/>; pass an empty span for the value only).
    /// </summary>
    public double LogPrior(ReadOnlySpan<double> position, Span<double> gradient)
    {
        double quad = 0;
        bool grad = !gradient.IsEmpty;
        for (int i = 0; i < ParameterDimension; i++)
        {
            double d = position[i] - _priorMean[i];
            double w = d * _priorInvVar[i];
            quad += d * w;
            if (grad) gradient[i] -= w;
        }
        double lp = _priorConstant - 0.5 * quad;
        if (SigmaOffset >= 0)
        {
            lp += LogLikelihoods.LogSigmaPrior(position[SigmaOffset], out double du);
            if (grad) gradient[SigmaOffset] += du;
        }
        return lp;
    }

    /// <summary>log σ at <paramref name="position"/>: the sampled u, or log of the fixed σ; 0 for bernoulli/categorical.</summary>
    public double LogSigma(ReadOnlySpan<double> position) =>
        SigmaOffset >= 0 ? position[SigmaOffset] : Options.FixedSigma is double s ? Math.Log(s) : 0.0;

    /// <summary>
    /// The reference log likelihood from the likelihood value's rows (N × K row-major, see <see cref="LikelihoodValue"/>),
    /// writing ∂/∂f into <paramref name="dPredictor"/> and returning ∂/∂u in <paramref name="dLogSigma"/> (0 unless σ is sampled).
    /// </summary>
    public double LogLikelihood(ReadOnlySpan<double> predictor, double logSigma, Span<double> dPredictor, out double dLogSigma)
    {
        dLogSigma = 0;
        switch (Options.Likelihood)
        {
            case LikelihoodKind.Normal:
                double ll = LogLikelihoods.Normal(predictor, Data.Targets, logSigma, dPredictor, out double du);
                if (SigmaOffset >= 0) dLogSigma = du;
                return ll;
            case LikelihoodKind.Bernoulli:
                return LogLikelihoods.BernoulliLogit(predictor, Data.Targets, dPredictor);
            default:
                return LogLikelihoods.CategoricalLogit(predictor, Data.Targets, OutputWidth, dPredictor);
        }
    }

    /// <summary>The position at the file's trained weights, with σ (when sampled) = <paramref name="sigma"/>.</summary>
    public double[] PositionAtFileWeights(double sigma = 1.0)
    {
        var position = new double[Layout.Dimension];
        int offset = 0;
        foreach (var p in Graph.Parameters)
        {
            p.Values.CopyTo(position, offset);
            offset += p.Size;
        }
        if (SigmaOffset >= 0) position[SigmaOffset] = Math.Log(sigma);
        return position;
    }

    /// <summary>
    /// The root-mean-square residual of <paramref name="predictions"/> (N × K, the graph output) against the targets,
    /// floored at 1e-3 × (the targets' standard deviation, or 1): an initial σ for the file's weights.
    /// </summary>
    public double ResidualSigma(ReadOnlySpan<double> predictions)
    {
        var y = Data.Targets;
        double ss = 0, mean = y.Average(), vy = 0;
        for (int i = 0; i < y.Length; i++)
        {
            double r = y[i] - predictions[i];
            ss += r * r;
            vy += (y[i] - mean) * (y[i] - mean);
        }
        double floor = 1e-3 * (vy > 0 ? Math.Sqrt(vy / y.Length) : 1.0);
        return Math.Max(Math.Sqrt(ss / y.Length), floor);
    }

    /// <summary>
    /// A draw from the prior: θ_i = μ_i + s_i·z_i and u = z (log σ ~ N(0,1)), with z from <paramref name="standardNormal"/>
    /// taken in position order (so the same normal stream gives the same position).
    /// </summary>
    public void DrawFromPrior(Func<double> standardNormal, Span<double> position)
    {
        for (int i = 0; i < ParameterDimension; i++)
            position[i] = _priorMean[i] + standardNormal() / Math.Sqrt(_priorInvVar[i]);
        if (SigmaOffset >= 0) position[SigmaOffset] = standardNormal();
    }
}
