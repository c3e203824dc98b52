using Bnn.Onnx.Cli.Plotting;
using Bnn.Onnx.Cli.Sampling;
using Bnn.Onnx.Export;
using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Cli.Evaluation;

/// <summary>
/// A run's posterior predictive and the ONNX file's own trained weights (the point estimate), scored on held-out
/// rows (<see cref="Evaluate"/>). Exactly one of the regression or classification pairs is set.
/// </summary>
/// <param name="DataPath">The held-out data file.</param>
/// <param name="Likelihood"><c>normal</c>, <c>bernoulli</c> or <c>categorical</c>.</param>
/// <param name="DrawsUsed">S, the posterior draws in the mixture (every kept draw, or evenly thinned).</param>
/// <param name="TotalDraws">The draws the run kept.</param>
/// <param name="PosteriorSigma">How the posterior's σ was set (normal only).</param>
/// <param name="PointSigma">The point estimate's σ, fitted by maximum likelihood on the training rows (normal only).</param>
/// <param name="PointSigmaSource">Where <paramref name="PointSigma"/> comes from, in words (normal only).</param>
internal sealed record HeldOutEvaluation(
    string RunPath,
    string ModelPath,
    string DataPath,
    IReadOnlyList<string> Features,
    string Target,
    string Likelihood,
    int DrawsUsed,
    int TotalDraws,
    RegressionMetrics? PosteriorRegression,
    RegressionMetrics? PointRegression,
    ClassificationMetrics? PosteriorClassification,
    ClassificationMetrics? PointClassification,
    string? PosteriorSigma,
    double? PointSigma,
    string? PointSigmaSource)
{
    /// <summary>The held-out rows scored.</summary>
    public int Rows => PosteriorRegression?.Rows ?? PosteriorClassification!.Rows;

    /// <summary>Where the figures come from; null fields fall back to the run record.</summary>
    /// <param name="Data">The held-out data file (required).</param>
    /// <param name="Members">Evenly thinned draws to use; null: every kept draw.</param>
    /// <param name="InputDimensions">Sizes of the model input's symbolic dimensions (<c>--input-shape</c>); a single one
    /// left open takes its size from the number of feature columns.</param>
    public sealed record Inputs(string Data, IReadOnlyList<string> Features, IReadOnlyList<string> Targets, int? Members = null,
        string? Model = null, IReadOnlyDictionary<string, int>? InputDimensions = null);

    /// <summary>
    /// Loads the run's model and draws, evaluates the network per draw with the compiled CPU backend (TorchSharp when
    /// it lacks an op) on the held-out rows, and scores the posterior mixture and the file's own weights. Draws are
    /// read in one streamed pass; when S draws' outputs would exceed <see cref="SummaryMemory.BudgetBytes"/> they are
    /// thinned evenly to fit, with a note on <paramref name="log"/>.
    /// </summary>
    public static HeldOutEvaluation Evaluate(RunDirectory run, Inputs inputs, TextWriter log)
    {
        var record = run.Record;
        var kind = record?.Settings.Likelihood
            ?? (run.Draws.Layout.Find(NoiseScale.Name) is not null ? EnsembleLikelihood.Normal
                : throw new UsageException($"{run.Path}: the run does not record its likelihood"));
        string likelihood = kind.ToString().ToLowerInvariant();
        if (inputs.Members is < 1) throw new UsageException($"--members {inputs.Members}: must be at least 1");

        string modelPath = inputs.Model
            ?? (record is not null ? RunRecord.Resolve(record.Model, run.Path) : null)
            ?? throw new UsageException($"{run.Path}: the run does not record its model; pass --model MODEL.onnx");
        if (!File.Exists(modelPath)) throw new FileNotFoundException($"model file not found: {modelPath} (pass --model to point elsewhere)", modelPath);

        var features = inputs.Features.Count > 0 ? inputs.Features : record?.Features ?? [];
        var targets = inputs.Targets.Count > 0 ? inputs.Targets : record is not null ? [record.Target] : [];
        if (features.Count == 0) throw new UsageException("name the feature columns with --features");
        if (targets.Count != 1) throw new UsageException(targets.Count == 0 ? "name the target column with --target" : $"--target: one column, got {targets.Count}");

        var frozen = record?.Frozen;
        var graph = FrozenHead.Import(modelPath, frozen?.Selection ?? ParameterSelection.Everything);
        if (record is not null && !string.Equals(record.ModelSha256, graph.Sha256, StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"{modelPath}: SHA-256 {graph.Sha256} differs from the model the run sampled ({record.ModelSha256})");
        // The feature columns fill the input's non-batch dimensions in row-major order, as when sampling.
        string columns = $"{features.Count} feature columns ({string.Join(", ", features)})";
        var shape = InputShapeOption.Resolve(graph, inputs.InputDimensions ?? new Dictionary<string, int>(), features.Count, columns, log);
        if (features.Count != shape.Width)
            throw new UsageException($"{columns} but {Path.GetFileName(modelPath)} takes {shape.Width} values per row");
        var unbound = graph;
        graph = shape.Bind(graph);
        var data = DataFile.Read(inputs.Data);
        var (x, y) = Table(data, features, targets[0]);
        int rows = y.Length;
        if (frozen is not null)
        {
            // The head the run sampled, on the features ONNX Runtime computes from the held-out rows.
            (graph, x) = FrozenHead.Apply(frozen, graph, modelPath, x, rows, shape.SampleShape!);
        }
        int outputWidth = GraphShapes.OutputWidth(graph, 0);
        int classes = kind switch
        {
            EnsembleLikelihood.Normal when outputWidth != 1 => throw new UsageException($"{Path.GetFileName(modelPath)} gives {outputWidth} outputs per row; evaluation of a normal likelihood needs one per target"),
            EnsembleLikelihood.Bernoulli when outputWidth != 1 => throw new UsageException($"{Path.GetFileName(modelPath)} gives {outputWidth} outputs per row; bernoulli needs one logit"),
            EnsembleLikelihood.Categorical when outputWidth < 2 => throw new UsageException($"{Path.GetFileName(modelPath)} gives {outputWidth} output per row; categorical needs at least 2 classes"),
            EnsembleLikelihood.Normal => 1,
            EnsembleLikelihood.Bernoulli => 2,
            _ => outputWidth,
        };
        PredictivePlot.CheckLayout(run, graph, modelPath);

        if (kind != EnsembleLikelihood.Normal) CheckLabels(data, targets[0], y, classes);

        var sigmaBlock = run.Draws.Layout.Find(NoiseScale.Name);
        double? fixedSigma = null;
        if (kind == EnsembleLikelihood.Normal && sigmaBlock is null)
        {
            fixedSigma = record?.Settings.FixedSigma
                ?? throw new InvalidDataException($"{run.Path}: the draws hold no sigma and the run records no fixed sigma");
            if (!(fixedSigma > 0) || !double.IsFinite(fixedSigma.Value))
                throw new InvalidDataException($"{run.Path}: the recorded fixed sigma {fixedSigma} is not positive");
        }

        int wanted = Math.Min(inputs.Members ?? run.Draws.TotalDraws, run.Draws.TotalDraws);
        long bytesPerDraw = (long)sizeof(double) * rows * Math.Max(classes, 1);
        int affordable = (int)Math.Clamp(SummaryMemory.BudgetBytes / Math.Max(bytesPerDraw, 1), 1, int.MaxValue);
        if (wanted > affordable)
        {
            log.WriteLine($"note: using {affordable} of {wanted} draws, evenly thinned, to keep their outputs on {rows} rows within the {SummaryMemory.BudgetBytes >> 20} MiB memory budget ({SummaryMemory.EnvironmentVariable})");
            wanted = affordable;
        }
        var picks = PredictivePlot.Thin(run.Draws.DrawCounts, wanted);

        var backend = BackendSelector.Select(BackendKind.Auto, graph, Backends.All);
        using var function = backend.CompileGraph(graph, new BackendOptions());
        // The network's prediction includes its head: a final Sigmoid or Softmax gives probabilities.
        var (head, _) = OutputHeads.Detect(graph, kind switch
        {
            EnsembleLikelihood.Bernoulli => OutputReading.Logit,
            EnsembleLikelihood.Categorical => OutputReading.ClassLogits,
            _ => OutputReading.Value,
        });
        bool probabilities = head is OutputHead.Sigmoid or OutputHead.Softmax;
        var perDraw = new double[picks.Count][];
        var sigmas = new double[picks.Count];
        var output = new double[rows * outputWidth];
        long drawBytes = (long)sizeof(double) * Math.Max(run.Draws.Layout.Dimension, 1);
        int batch = (int)Math.Clamp(SummaryMemory.BudgetBytes / 4 / drawBytes, 1, 1024);
        for (int first = 0; first < picks.Count; first += batch)
        {
            var thetas = run.Draws.ReadDraws(picks.Skip(first).Take(batch).ToArray());
            for (int k = 0; k < thetas.Length; k++)
            {
                function.Forward(thetas[k], x, rows, output);
                perDraw[first + k] = Transform(output, kind, classes, probabilities);
                if (kind == EnsembleLikelihood.Normal) sigmas[first + k] = fixedSigma ?? thetas[k][sigmaBlock!.Offset];
            }
        }

        var fileWeights = graph.Parameters.SelectMany(p => p.Values).ToArray();
        function.Forward(fileWeights, x, rows, output);
        var point = Transform(output, kind, classes, probabilities);

        string dataPath = Path.GetFullPath(inputs.Data);
        if (kind == EnsembleLikelihood.Normal)
        {
            var (pointSigma, source) = FitSigma(run, unbound, modelPath, inputs.InputDimensions, fileWeights);
            return new HeldOutEvaluation(run.Path, modelPath, dataPath, features, targets[0], likelihood, picks.Count, run.Draws.TotalDraws,
                PredictiveMetrics.Regression(perDraw, sigmas, y), PredictiveMetrics.Regression([point], [pointSigma], y), null, null,
                fixedSigma is double f ? $"fixed σ = {f.ToString("G6", System.Globalization.CultureInfo.InvariantCulture)} (as sampled)" : "each draw's sampled σ",
                pointSigma, source);
        }
        var labels = y.Select(v => (int)v).ToArray();
        return new HeldOutEvaluation(run.Path, modelPath, dataPath, features, targets[0], likelihood, picks.Count, run.Draws.TotalDraws,
            null, null, PredictiveMetrics.Classification(perDraw, classes, labels), PredictiveMetrics.Classification([point], classes, labels),
            null, null, null);
    }

    /// <summary>
    /// The point estimate's σ: the maximum-likelihood σ̂ = √((1/N) Σ_n (y_n − f(x_n; θ̂))²) on the run's training
    /// rows (its recorded data file, features and target), since the file's weights hold no noise scale.
    /// </summary>
    private static (double Sigma, string Source) FitSigma(RunDirectory run, OnnxGraph graph, string modelPath, IReadOnlyDictionary<string, int>? inputDimensions,
        double[] fileWeights)
    {
        var record = run.Record
            ?? throw new UsageException($"{run.Path}: the point estimate's σ is fitted on the training rows, but the run does not record its training data");
        string path = RunRecord.Resolve(record.Data, run.Path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"training data not found: {path} (the point estimate's σ is fitted on the training rows)", path);
        var data = DataFile.Read(path);
        var (x, y) = Table(data, record.Features, record.Target);
        // The training rows may fill a symbolic input dimension to another size than the held-out rows do.
        var shape = InputShapeOption.Resolve(graph, inputDimensions ?? new Dictionary<string, int>(), record.Features.Count,
            $"{Path.GetFileName(path)} ({record.Features.Count} feature columns)", TextWriter.Null);
        var bound = shape.Bind(graph);
        if (record.Frozen is { } frozen)
            (bound, x) = FrozenHead.Apply(frozen, bound, modelPath, x, y.Length, shape.SampleShape!);
        var backend = BackendSelector.Select(BackendKind.Auto, bound, Backends.All);
        using var function = backend.CompileGraph(bound, new BackendOptions());
        var output = new double[y.Length];
        function.Forward(fileWeights, x, y.Length, output);
        double ss = 0;
        for (int n = 0; n < y.Length; n++) ss += (y[n] - output[n]) * (y[n] - output[n]);
        double sigma = Math.Sqrt(ss / y.Length);
        if (!(sigma > 0) || !double.IsFinite(sigma))
            throw new InvalidDataException($"{Path.GetFileName(path)}: the file's weights fit the training rows exactly (σ̂ = {sigma}); no noise scale to score with");
        return (sigma, $"maximum-likelihood σ of the file's weights on the {y.Length} training rows of {Path.GetFileName(path)}");
    }

    /// <summary>The features (rows × width, row-major) and the target of a data file.</summary>
    private static (double[] X, double[] Y) Table(DataFile data, IReadOnlyList<string> features, string target)
    {
        var featureIndices = features.Select(data.IndexOf).ToArray();
        int targetIndex = data.IndexOf(target);
        if (features.Contains(target)) throw new UsageException($"the features include the target column '{target}'");
        int rows = data.Rows, width = features.Count;
        var x = new double[rows * width];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < width; j++)
                x[r * width + j] = data.Values[featureIndices[j]][r];
        return (x, (double[])data.Values[targetIndex].Clone());
    }

    private static void CheckLabels(DataFile data, string target, double[] y, int classes)
    {
        for (int r = 0; r < y.Length; r++)
            if (y[r] != Math.Floor(y[r]) || y[r] < 0 || y[r] >= classes)
                throw new InvalidDataException(
                    $"{Path.GetFileName(data.Path)}: row {r + 1}, column '{target}': {y[r].ToString(System.Globalization.CultureInfo.InvariantCulture)} is not a class label (0..{classes - 1})");
    }

    /// <summary>
    /// One draw's network output as the metrics take it: the mean (normal), or log probabilities per row and class.
    /// A graph that ends in Sigmoid (bernoulli) or Softmax (categorical) already gives probabilities; otherwise the
    /// output is the logit(s) (a LogSoftmax output is its own log-softmax).
    /// </summary>
    private static double[] Transform(double[] output, EnsembleLikelihood kind, int classes, bool probabilities)
    {
        switch (kind)
        {
            case EnsembleLikelihood.Normal:
                return (double[])output.Clone();
            case EnsembleLikelihood.Bernoulli:
            {
                var logp = new double[output.Length * 2];
                for (int n = 0; n < output.Length; n++)
                {
                    var (p0, p1) = probabilities
                        ? (Math.Log(1 - output[n]), Math.Log(output[n]))
                        : PredictiveMetrics.BernoulliLogProbabilities(output[n]);
                    logp[2 * n] = p0;
                    logp[2 * n + 1] = p1;
                }
                return logp;
            }
            default:
            {
                var logp = new double[output.Length];
                for (int n = 0; n < output.Length / classes; n++)
                {
                    var row = output.AsSpan(n * classes, classes);
                    if (probabilities)
                        for (int k = 0; k < classes; k++) logp[n * classes + k] = Math.Log(row[k]);
                    else
                        PredictiveMetrics.LogSoftmax(row, logp.AsSpan(n * classes, classes));
                }
                return logp;
            }
        }
    }
}
