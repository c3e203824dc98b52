using Bnn.Onnx.Nuts;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.GraphToPotential;

/// <summary>
/// log p(θ | D) for an imported network: the layout of θ, the priors, the likelihood and where in the graph it reads.
/// <code>
/// log p(θ, u | D) = Σ_i log N(θ_i; μ_i, s_i²)                       parameters, graph order (or log p_i(θ_i) for a
///                                                                   student_t or laplace override: ScalarPrior)
///                 + [−½ log 2π − ½ u²]                              u = log σ, σ ~ LogNormal(0,1), + log-Jacobian u
///                 + Σ_l log N(v_l; log m_l, 1)                      hierarchical: v_l = log s_l, s_l ~ LogNormal(log m_l, 1), + log-Jacobian
///                 + Σ_n log p(y_n | f(x_n; w), σ)                   see LogLikelihoods
/// </code>
/// Under a hierarchical prior (<see cref="PriorScaling.Hierarchical"/>) a weight tensor's block holds z ~ N(0, 1)
/// and the network sees w = s_l·z (<see cref="BlockTransform.NonCentered"/>); otherwise w = θ. Backends compute f at
/// w (<see cref="NetworkParameters"/>) and ∂ℓ/∂w, which <see cref="PullBackNetworkGradient"/> turns into ∂ℓ/∂(z, v).
/// All normalising constants are kept (see <see cref="LogLikelihoods"/>). Backends compute f and the likelihood;
/// the prior is computed here once for all of them (<see cref="LogPrior"/>).
/// </summary>
internal sealed class PosteriorModel
{
    private readonly double[] _priorMean;
    private readonly double[] _priorInvVar;
    private readonly double _priorConstant;
    private readonly ScaledBlock[] _scaled;
    private readonly OtherBlock[] _other;

    /// <summary>A non-centred weight tensor: z at [Offset, Offset + Size), v = log s at ScaleOffset, s ~ LogNormal(log Median, 1).</summary>
    private readonly record struct ScaledBlock(int Offset, int Size, int ScaleOffset, ScaleHyperprior Hyperprior);

    /// <summary>A parameter whose scalars have a prior other than the normal (Student-t, Laplace): θ at [Offset, Offset + Size).</summary>
    private readonly record struct OtherBlock(int Offset, int Size, ScalarPrior Prior);

    private PosteriorModel(OnnxGraph graph, PosteriorOptions options, DataSet data, ParameterLayout layout,
        IReadOnlyList<ParameterPrior> priors, int[] inputSampleShape, int outputWidth, OutputHead head, string likelihoodValue)
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
        var scaled = new List<ScaledBlock>();
        var other = new List<OtherBlock>();
        for (int p = 0; p < graph.Parameters.Count; p++)
        {
            int size = graph.Parameters[p].Size;
            if (priors[p].Scale is { } hyperprior)
                scaled.Add(new ScaledBlock(offset, size, layout.ScaleOffset(p), hyperprior));
            if (priors[p].Normal is { } prior)
            {
                _priorMean.AsSpan(offset, size).Fill(prior.Mean);
                _priorInvVar.AsSpan(offset, size).Fill(1 / (prior.Scale * prior.Scale));
                _priorConstant += size * (-NormalPrior.HalfLogTwoPi - Math.Log(prior.Scale));
            }
            else
            {
                other.Add(new OtherBlock(offset, size, priors[p].Scalar));   // mean and 1/variance stay 0: no normal term
            }
            offset += size;
        }
        _scaled = scaled.ToArray();
        _other = other.ToArray();
    }

    /// <summary>The graph, with its data input declared at the resolved <see cref="InputSampleShape"/> (batch kept symbolic).</summary>
    public OnnxGraph Graph { get; }
    public PosteriorOptions Options { get; }
    public DataSet Data { get; }

    /// <summary>
    /// θ: one block per <see cref="OnnxGraph.Parameters"/> entry in graph order (Name = parameter name, Source = ONNX
    /// name; non-centred under a hierarchical prior), then <c>sigma</c> (log transform) when sampled, then one
    /// <c>scale[NAME]</c> (log transform) per non-centred weight tensor.
    /// </summary>
    public ParameterLayout Layout { get; }

    /// <summary>The prior of each graph parameter, in <see cref="OnnxGraph.Parameters"/> order.</summary>
    public IReadOnlyList<ParameterPrior> Priors { get; }

    /// <summary>
    /// The output layer integrated out (<see cref="CreateIntegrated"/>): then <see cref="Graph"/> is cut at its input,
    /// the position lacks its weight and bias, and <see cref="IntegratedOutput.Full"/> is the posterior over all of them.
    /// Null for the ordinary posterior.
    /// </summary>
    public IntegratedOutput? Integrated { get; private init; }

    /// <summary>True when some weight tensor is non-centred (hierarchical prior): the position's prefix then holds z, not w.</summary>
    public bool HasLayerScales => _scaled.Length > 0;

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
        var priors = graph.Parameters.Select(options.Priors.For).ToArray();
        return Assemble(graph, options, data, priors, sampleShape, outputWidth, head, likelihoodValue, integrated: null);
    }

    /// <summary>
    /// The posterior with the final affine layer integrated out exactly (<see cref="IntegratedOutput"/>): the position
    /// holds the hidden parameters and σ; the likelihood reads the final hidden activations (<see cref="LikelihoodValue"/>,
    /// <see cref="OutputWidth"/> = H) through <see cref="CollapsedOutputLayer"/>. <see cref="Integrated"/> describes
    /// the cut and holds the full posterior. Throws as <see cref="Create"/>, and a one-line
    /// <see cref="NotSupportedException"/> naming why when the output layer cannot be integrated.
    /// </summary>
    public static PosteriorModel CreateIntegrated(OnnxGraph graph, PosteriorOptions options, DataSet data, IReadOnlyDictionary<string, int>? inputDimensions = null)
    {
        if (options.Likelihood != LikelihoodKind.Normal)
            throw new NotSupportedException($"--integrate-output: the output layer can be integrated under the normal likelihood only, not {options.Likelihood.ToString().ToLowerInvariant()}");
        var full = Create(graph, options, data, inputDimensions);
        var cut = IntegratedOutput.Cut(full);
        var kept = full.Graph.Parameters.Select((p, i) => (p, i)).Where(t => t.p != cut.Weight && t.p != cut.Bias).Select(t => full.Priors[t.i]).ToArray();
        if (cut.HiddenGraph.Parameters.Count == 0 && !options.SamplesSigma)
            throw new NotSupportedException("--integrate-output: with a fixed σ and no parameters before the output layer nothing is left to sample; the posterior is the conditional Gaussian itself");
        var model = Assemble(cut.HiddenGraph, options, data, kept, full.InputSampleShape, cut.HiddenWidth, OutputHead.None, cut.HiddenValue, cut);
        return model;
    }

    /// <summary>
    /// Whether <see cref="CreateIntegrated"/> accepts this (ordinary) posterior's model: a normal likelihood, a final
    /// affine layer to one output with fixed normal priors, and something left to sample. False for a posterior that
    /// already integrates its output layer.
    /// </summary>
    public bool CanIntegrateOutput()
    {
        if (Integrated is not null || Options.Likelihood != LikelihoodKind.Normal) return false;
        try
        {
            var cut = IntegratedOutput.Cut(this);
            return cut.HiddenGraph.Parameters.Count > 0 || Options.SamplesSigma;
        }
        catch (NotSupportedException)
        {
            return false;
        }
    }

    private static PosteriorModel Assemble(OnnxGraph graph, PosteriorOptions options, DataSet data, ParameterPrior[] priors,
        int[] sampleShape, int outputWidth, OutputHead head, string likelihoodValue, IntegratedOutput? integrated)
    {
        var names = graph.Parameters.Select(p => p.Name).ToArray();
        var blocks = graph.Parameters.Select((p, i) => (p.Name, p.Shape,
            priors[i].Scale is null ? BlockTransform.Identity : BlockTransform.NonCentered, (string?)p.OnnxName)).ToList();
        if (options.SamplesSigma)
        {
            if (names.Contains(NoiseScale.Name))
                throw new NotSupportedException($"model: a parameter is named '{NoiseScale.Name}', which the normal likelihood's noise scale uses");
            blocks.Add((NoiseScale.Name, Array.Empty<int>(), BlockTransform.Log, null));
        }
        for (int i = 0; i < priors.Length; i++)
        {
            if (priors[i].Scale is null) continue;
            string scaleName = ParameterLayout.ScaleBlockName(names[i]);
            if (names.Contains(scaleName))
                throw new NotSupportedException($"model: a parameter is named '{scaleName}', which the hierarchical prior's scale of '{names[i]}' uses");
            blocks.Add((scaleName, Array.Empty<int>(), BlockTransform.Log, null));
        }
        var layout = ParameterLayout.FromShapes(blocks);

        return new PosteriorModel(graph, options, data, layout, priors, sampleShape, outputWidth, head, likelihoodValue)
        {
            Integrated = integrated?.WithLayout(layout),
        };
    }

    /// <summary>
    /// Σ log N(θ_i; μ_i, s_i²) (Σ log p_i(θ_i) for other families) + (when σ is sampled) −½ log 2π − ½ u² + (hierarchical) Σ_l log N(v_l; log m_l, 1),
    /// ADDING its gradient into <paramref name="gradient"/> (length <see cref="ParameterLayout.Dimension"/>; pass an
    /// empty span for the value only).
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
        foreach (var b in _other)
            for (int i = b.Offset; i < b.Offset + b.Size; i++)
            {
                lp += b.Prior.LogDensity(position[i], out double dx);
                if (grad) gradient[i] += dx;
            }
        if (SigmaOffset >= 0)
        {
            lp += LogLikelihoods.LogSigmaPrior(position[SigmaOffset], out double du);
            if (grad) gradient[SigmaOffset] += du;
        }
        foreach (var b in _scaled)
        {
            lp += b.Hyperprior.LogDensityOfLog(position[b.ScaleOffset], out double dv);
            if (grad) gradient[b.ScaleOffset] += dv;
        }
        return lp;
    }

    /// <summary>
    /// The network's parameters w (graph order, <see cref="ParameterDimension"/> values) at <paramref name="position"/>:
    /// the position's prefix, with each non-centred block's z multiplied by its scale s = e^v.
    /// </summary>
    public void NetworkParameters(ReadOnlySpan<double> position, Span<double> parameters)
    {
        position[..ParameterDimension].CopyTo(parameters);
        foreach (var b in _scaled)
        {
            double s = Math.Exp(position[b.ScaleOffset]);
            var w = parameters.Slice(b.Offset, b.Size);
            for (int i = 0; i < w.Length; i++) w[i] *= s;
        }
    }

    /// <summary>
    /// The chain rule through w = s·z: on entry <paramref name="gradient"/>'s prefix holds ∂ℓ/∂w; on return a
    /// non-centred block holds ∂ℓ/∂z = s·∂ℓ/∂w and its scale's entry is SET to ∂ℓ/∂v = Σ_i ∂ℓ/∂w_i · w_i
    /// (∂w_i/∂v = s·z_i = w_i). Nothing changes without a hierarchical prior.
    /// </summary>
    public void PullBackNetworkGradient(ReadOnlySpan<double> position, Span<double> gradient)
    {
        foreach (var b in _scaled)
        {
            double s = Math.Exp(position[b.ScaleOffset]), dv = 0;
            var z = position.Slice(b.Offset, b.Size);
            var g = gradient.Slice(b.Offset, b.Size);
            for (int i = 0; i < g.Length; i++)
            {
                dv += g[i] * s * z[i];
                g[i] *= s;
            }
            gradient[b.ScaleOffset] = dv;
        }
    }

    /// <summary>log σ at <paramref name="position"/>: the sampled u, or log of the fixed σ; 0 for bernoulli/categorical.</summary>
    public double LogSigma(ReadOnlySpan<double> position) =>
        SigmaOffset >= 0 ? position[SigmaOffset] : Options.FixedSigma is double s ? Math.Log(s) : 0.0;

    /// <summary>
    /// The reference log likelihood from the likelihood value's rows (N × K row-major, see <see cref="LikelihoodValue"/>;
    /// with the output layer integrated, the collapsed likelihood of the final hidden activations),
    /// writing ∂/∂f into <paramref name="dPredictor"/> and returning ∂/∂u in <paramref name="dLogSigma"/> (0 unless σ is sampled).
    /// </summary>
    public double LogLikelihood(ReadOnlySpan<double> predictor, double logSigma, Span<double> dPredictor, out double dLogSigma)
    {
        dLogSigma = 0;
        if (Integrated is { } integrated)
        {
            double collapsed = integrated.CreateLayer(Data.Targets).LogLikelihood(predictor, logSigma, dPredictor, out double du);
            if (SigmaOffset >= 0) dLogSigma = du;
            return collapsed;
        }
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

    /// <summary>
    /// The position at the file's trained weights, with σ (when sampled) = <paramref name="sigma"/>. Under a
    /// hierarchical prior each weight tensor's scale starts at the root mean square of its trained weights (its
    /// hyperprior's median when they are all zero) and z = w/s, so that <see cref="NetworkParameters"/> gives back
    /// the trained w (<see cref="ParameterLayout.Unconstrain"/>).
    /// </summary>
    public double[] PositionAtFileWeights(double sigma = 1.0)
    {
        var constrained = new double[Layout.Dimension];
        int offset = 0;
        foreach (var p in Graph.Parameters)
        {
            p.Values.CopyTo(constrained, offset);
            offset += p.Size;
        }
        if (SigmaOffset >= 0) constrained[SigmaOffset] = sigma;
        foreach (var b in _scaled)
        {
            double ss = 0;
            foreach (double w in constrained.AsSpan(b.Offset, b.Size)) ss += w * w;
            double rms = Math.Sqrt(ss / b.Size);
            constrained[b.ScaleOffset] = rms > 0 && double.IsFinite(rms) ? rms : b.Hyperprior.Median;
        }
        var position = new double[Layout.Dimension];
        Layout.Unconstrain(constrained, position);
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
    /// A draw from the prior: θ_i = μ_i + s_i·z_i, u = z (log σ ~ N(0,1)) and v_l = log m_l + z (hierarchical scales),
    /// with z from <paramref name="standardNormal"/> taken in position order (so the same normal stream gives the same
    /// position); a Student-t or Laplace scalar takes as many normals as its <see cref="ScalarPrior.Draw"/> needs.
    /// </summary>
    public void DrawFromPrior(Func<double> standardNormal, Span<double> position)
    {
        int next = 0;
        foreach (var b in _other)
        {
            for (; next < b.Offset; next++) position[next] = _priorMean[next] + standardNormal() / Math.Sqrt(_priorInvVar[next]);
            for (; next < b.Offset + b.Size; next++) position[next] = b.Prior.Draw(standardNormal);
        }
        for (; next < ParameterDimension; next++)
            position[next] = _priorMean[next] + standardNormal() / Math.Sqrt(_priorInvVar[next]);
        if (SigmaOffset >= 0) position[SigmaOffset] = standardNormal();
        foreach (var b in _scaled) position[b.ScaleOffset] = Math.Log(b.Hyperprior.Median) + standardNormal();
    }
}
