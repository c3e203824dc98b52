using Bnn.Onnx.Cli.Evaluation;
using Bnn.Onnx.Export;
using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.OnnxImport;
using ScottPlot;

namespace Bnn.Onnx.Cli.Plotting;

/// <summary>
/// The posterior predictive of a one-feature regression at an evenly spaced grid of inputs: the mean over draws of
/// f(x; θ_s), the 5%–95% band of f(x; θ_s) (uncertainty of the mean) and the 5%–95% band of a new observation
/// y ~ N(f(x; θ_s), σ_s²), the latter as exact quantiles of the equal-weight normal mixture over draws.
/// </summary>
internal sealed record PredictiveBands(double[] X, double[] Mean, double[] MeanLow, double[] MeanHigh, double[] ObservedLow, double[] ObservedHigh)
{
    public const double Lower = 0.05;
    public const double Upper = 0.95;

    /// <param name="outputs"><c>[draw][grid point]</c>: f(x_g; θ_s).</param>
    /// <param name="sigmas">σ_s per draw.</param>
    public static PredictiveBands Compute(double[] x, double[][] outputs, double[] sigmas)
    {
        int n = x.Length, s = outputs.Length;
        var mean = new double[n];
        var meanLow = new double[n];
        var meanHigh = new double[n];
        var obsLow = new double[n];
        var obsHigh = new double[n];
        var column = new double[s];
        for (int g = 0; g < n; g++)
        {
            for (int d = 0; d < s; d++) column[d] = outputs[d][g];
            mean[g] = column.Average();
            var sorted = column.OrderBy(v => v).ToArray();
            meanLow[g] = Density.Quantile(sorted, Lower);
            meanHigh[g] = Density.Quantile(sorted, Upper);
            obsLow[g] = MixtureQuantile(column, sigmas, Lower);
            obsHigh[g] = MixtureQuantile(column, sigmas, Upper);
        }
        return new PredictiveBands(x, mean, meanLow, meanHigh, obsLow, obsHigh);
    }

    /// <summary>The p-quantile of (1/S) Σ_s N(μ_s, σ_s²) (<see cref="NormalMixture.Quantile"/>).</summary>
    public static double MixtureQuantile(IReadOnlyList<double> means, IReadOnlyList<double> sigmas, double p) =>
        NormalMixture.Quantile(means.ToArray(), sigmas.ToArray(), p);

    /// <summary>Φ(z) (<see cref="NormalMixture.NormalCdf"/>).</summary>
    public static double NormalCdf(double z) => NormalMixture.NormalCdf(z);
}

/// <summary>
/// The blog's closing figure: the data, the posterior predictive mean and the 90% bands for the mean and for new
/// observations, over the data's range widened by 15% of its width on each side. The network is evaluated per draw
/// (thinned evenly to at most <see cref="MaxDraws"/>, read from the draws file in one streamed pass) with the compiled
/// CPU backend (TorchSharp when the compiled backend lacks an op).
/// </summary>
internal static class PredictivePlot
{
    public const int MaxDraws = 400;
    public const int GridPoints = 200;
    public const double Widen = 0.15;
    public const int Width = 1100;
    public const int Height = 700;

    /// <summary>Where the model and data come from; null fields fall back to the run record.</summary>
    public sealed record Inputs(string? Model, string? Data, IReadOnlyList<string> Features, IReadOnlyList<string> Targets);

    /// <summary>Everything the figure shows: the bands on the grid, the data, and the labels.</summary>
    public sealed record Figure(PredictiveBands Bands, double[] DataX, double[] DataY, string Feature, string Target,
        string ModelName, int DrawsUsed, int TotalDraws);

    public static void Write(RunDirectory run, Inputs inputs, string path) => Draw(Prepare(run, inputs), path);

    /// <summary>Checks the inputs, evaluates the network per draw and computes the bands.</summary>
    public static Figure Prepare(RunDirectory run, Inputs inputs)
    {
        var record = run.Record;
        if (record is { Settings.Likelihood: not EnsembleLikelihood.Normal and var likelihood })
            throw new UsageException($"{run.Path}: the predictive plot is for regression with a normal likelihood; this run used '{likelihood.ToString().ToLowerInvariant()}'");

        string modelPath = inputs.Model
            ?? (record is not null ? RunRecord.Resolve(record.Model, run.Path) : null)
            ?? throw new UsageException($"{run.Path}: the run does not record its model; pass --model MODEL.onnx");
        if (!File.Exists(modelPath)) throw new FileNotFoundException($"model file not found: {modelPath} (pass --model to point elsewhere)", modelPath);

        string dataPath = inputs.Data
            ?? (record is not null ? RunRecord.Resolve(record.Data, run.Path) : null)
            ?? throw new UsageException($"{run.Path}: the run does not record its data; pass --data D.csv --features X --target Y");
        var features = inputs.Features.Count > 0 ? inputs.Features : record?.Features ?? [];
        var targets = inputs.Targets.Count > 0 ? inputs.Targets : record is not null ? [record.Target] : [];
        if (features.Count == 0) throw new UsageException("name the feature column with --features");
        if (targets.Count == 0) throw new UsageException("name the target column with --target");
        if (features.Count != 1)
            throw new UsageException($"the predictive plot is for one-feature regression; got {features.Count} features ({string.Join(", ", features)})");
        if (targets.Count != 1)
            throw new UsageException($"the predictive plot is for one target column; got {targets.Count} ({string.Join(", ", targets)})");

        var graph = OnnxImporter.Import(modelPath);
        int inputWidth = GraphShapes.InputWidth(graph);
        if (graph.Inputs.Count != 1 || inputWidth != 1)
            throw new UsageException($"{Path.GetFileName(modelPath)}: the predictive plot is for one-feature regression; the model takes {inputWidth} values per row");
        int outputWidth = GraphShapes.OutputWidth(graph, 0);
        if (outputWidth != 1)
            throw new UsageException($"{Path.GetFileName(modelPath)}: the predictive plot is for one output per row; the model gives {outputWidth}");
        CheckLayout(run, graph, modelPath);

        var data = DataFile.Read(dataPath);
        var x = data.Values[data.IndexOf(features[0])];
        var y = data.Values[data.IndexOf(targets[0])];

        var sigmaBlock = run.Draws.Layout.Find(NoiseScale.Name);
        double? fixedSigma = sigmaBlock is null ? record?.Settings.FixedSigma : null;
        if (sigmaBlock is null && fixedSigma is null)
            throw new InvalidDataException($"{run.Path}: the draws hold no sigma and the run records no fixed sigma, so there is no noise band for new observations");
        if (fixedSigma is <= 0 || fixedSigma is double fs && !double.IsFinite(fs))
            throw new InvalidDataException($"{run.Path}: the recorded fixed sigma {fixedSigma} is not positive");

        var picks = Thin(run.Draws.DrawCounts, MaxDraws);
        var grid = Grid(x.Min(), x.Max());
        var outputs = new double[picks.Count][];
        var sigmas = new double[picks.Count];
        var backend = BackendSelector.Select(BackendKind.Auto, graph, Backends.All);
        using (var function = backend.CompileGraph(graph, new BackendOptions()))
        {
            // The picked draws in one pass over the file (a pass per batch when they exceed the memory budget).
            long drawBytes = (long)sizeof(double) * Math.Max(run.Draws.Layout.Dimension, 1);
            int batch = (int)Math.Clamp(SummaryMemory.BudgetBytes / drawBytes, 1, MaxDraws);
            for (int first = 0; first < picks.Count; first += batch)
            {
                var thetas = run.Draws.ReadDraws(picks.Skip(first).Take(batch).ToArray());
                for (int k = 0; k < thetas.Length; k++)
                {
                    int i = first + k;
                    outputs[i] = new double[GridPoints];
                    function.Forward(thetas[k], grid, GridPoints, outputs[i]);
                    sigmas[i] = fixedSigma ?? thetas[k][sigmaBlock!.Offset];
                }
            }
        }
        return new Figure(PredictiveBands.Compute(grid, outputs, sigmas), x, y, features[0], targets[0],
            Path.GetFileName(modelPath), picks.Count, run.Draws.TotalDraws);
    }

    private static void Draw(Figure figure, string path)
    {
        var (bands, x, y) = (figure.Bands, figure.DataX, figure.DataY);
        var grid = bands.X;
        using var plot = new Plot();
        var observed = plot.Add.FillY(grid, bands.ObservedLow, bands.ObservedHigh);
        observed.FillColor = Colors.C0.WithAlpha(0.18);
        observed.LineWidth = 0;
        observed.LegendText = "90% interval, new observations";
        var meanBand = plot.Add.FillY(grid, bands.MeanLow, bands.MeanHigh);
        meanBand.FillColor = Colors.C0.WithAlpha(0.4);
        meanBand.LineWidth = 0;
        meanBand.LegendText = "90% interval, mean";
        var mean = plot.Add.ScatterLine(grid, bands.Mean, Colors.C0);
        mean.LineWidth = 2.5f;
        mean.LegendText = "posterior predictive mean";
        var points = plot.Add.ScatterPoints(x, y, Colors.Black);
        points.MarkerSize = 5;
        points.LegendText = $"data ({x.Length} points)";

        plot.Title($"Posterior predictive: {figure.ModelName} ({figure.DrawsUsed} of {figure.TotalDraws} draws)");
        plot.XLabel(figure.Feature);
        plot.YLabel(figure.Target);
        plot.Axes.SetLimitsX(grid[0], grid[^1]);
        plot.ShowLegend(Alignment.UpperLeft);
        PlotOutput.Save(plot, path, Width, Height);
    }

    /// <summary>The data's range widened by <see cref="Widen"/> of its width on each side, <see cref="GridPoints"/> points.</summary>
    public static double[] Grid(double min, double max)
    {
        double span = max - min;
        if (span <= 0) span = Math.Max(Math.Abs(min), 1);
        double lo = min - Widen * span, hi = max + Widen * span;
        return Enumerable.Range(0, GridPoints).Select(i => lo + (hi - lo) * i / (GridPoints - 1)).ToArray();
    }

    /// <summary>At most <paramref name="max"/> (chain, draw) pairs spread evenly over all draws in chain order.</summary>
    public static IReadOnlyList<(int Chain, int Draw)> Thin(IReadOnlyList<int> drawCounts, int max)
    {
        var all = drawCounts.SelectMany((n, c) => Enumerable.Range(0, n).Select(d => (c, d))).ToArray();
        int count = Math.Min(max, all.Length);
        return Enumerable.Range(0, count).Select(i => all[(int)((long)i * all.Length / count)]).ToArray();
    }

    /// <summary>Refuses a model whose parameters are not the draws' blocks (name and size, in order).</summary>
    public static void CheckLayout(RunDirectory run, OnnxGraph graph, string modelPath)
    {
        var blocks = run.Draws.Layout.Blocks;
        for (int i = 0; i < graph.Parameters.Count; i++)
        {
            var p = graph.Parameters[i];
            if (i >= blocks.Count || blocks[i].Name != p.Name || blocks[i].Size != p.Size)
                throw new InvalidDataException(
                    $"{Path.GetFileName(modelPath)}: parameter '{p.Name}' [{string.Join(",", p.Shape)}] does not match the draws' " +
                    $"{(i < blocks.Count ? $"'{blocks[i].Name}' [{string.Join(",", blocks[i].Shape)}]" : "parameters")}; is this the model the run sampled?");
        }
    }
}
