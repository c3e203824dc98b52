using Bnn.Onnx.Cli.Evaluation;
using ScottPlot;

namespace Bnn.Onnx.Cli.Plotting;

/// <summary>
/// Calibration on held-out rows, posterior and point estimate on one picture (<see cref="HeldOutEvaluation"/>, every
/// kept draw): for classification the reliability diagram (accuracy against mean top-class confidence in each
/// non-empty bin of <see cref="PredictiveMetrics.ConfidenceBins"/>, with the diagonal of perfect calibration); for
/// regression the interval-coverage curve (empirical against nominal coverage of the central predictive intervals at
/// levels <see cref="Levels"/>, with the diagonal).
/// </summary>
internal static class CalibrationPlot
{
    public const int Width = 800;
    public const int Height = 800;

    /// <summary>The nominal levels of the coverage curve: 0.05, 0.10, …, 0.95.</summary>
    public static readonly IReadOnlyList<double> Levels = Enumerable.Range(1, 19).Select(i => i / 20.0).ToArray();

    /// <summary>One series of the picture: x (confidence or nominal level) and y (accuracy or coverage).</summary>
    public sealed record Series(string Label, double[] X, double[] Y);

    /// <summary>What the picture shows.</summary>
    public sealed record Figure(bool Classification, Series Posterior, Series PointEstimate, string Title);

    public static void Write(RunDirectory run, HeldOutEvaluation.Inputs inputs, string path) =>
        Draw(Prepare(HeldOutEvaluation.Evaluate(run, inputs, Console.Error)), path);

    /// <summary>The two series and the title from an evaluation.</summary>
    public static Figure Prepare(HeldOutEvaluation e)
    {
        string data = Path.GetFileName(e.DataPath);
        if (e.PosteriorClassification is { } posterior && e.PointClassification is { } point)
        {
            return new Figure(true,
                Reliability($"posterior ({e.DrawsUsed} draws), ECE {PlotOutput.F(posterior.Ece, "F3")}", posterior),
                Reliability($"point estimate, ECE {PlotOutput.F(point.Ece, "F3")}", point),
                $"Reliability on {data} ({e.Rows} rows)");
        }
        var p = e.PosteriorRegression!;
        var q = e.PointRegression!;
        return new Figure(false,
            new Series($"posterior ({e.DrawsUsed} draws), mean log density {PlotOutput.F(p.MeanLogPredictiveDensity, "F3")}", Levels.ToArray(), Levels.Select(p.Coverage).ToArray()),
            new Series($"point estimate (σ fitted on training rows), mean log density {PlotOutput.F(q.MeanLogPredictiveDensity, "F3")}", Levels.ToArray(), Levels.Select(q.Coverage).ToArray()),
            $"Interval coverage on {data} ({e.Rows} rows)");
    }

    private static Series Reliability(string label, ClassificationMetrics m)
    {
        var bins = m.Bins.Where(b => b.Count > 0).ToArray();
        return new Series(label, bins.Select(b => b.Confidence).ToArray(), bins.Select(b => b.Accuracy).ToArray());
    }

    private static void Draw(Figure figure, string path)
    {
        using var plot = new Plot();
        var diagonal = plot.Add.Line(0, 0, 1, 1);
        diagonal.LineColor = Colors.Gray;
        diagonal.LinePattern = LinePattern.Dashed;
        diagonal.LegendText = "perfect calibration";
        Add(plot, figure.Posterior, Colors.C0);
        Add(plot, figure.PointEstimate, Colors.C1);
        plot.Title(figure.Title);
        plot.XLabel(figure.Classification ? "confidence (top-class probability)" : "nominal coverage of the central interval");
        plot.YLabel(figure.Classification ? "accuracy" : "empirical coverage");
        plot.Axes.SetLimits(0, 1, 0, 1);
        plot.ShowLegend(Alignment.UpperLeft);
        PlotOutput.Save(plot, path, Width, Height);
    }

    private static void Add(Plot plot, Series series, Color color)
    {
        var line = plot.Add.Scatter(series.X, series.Y, color);
        line.LineWidth = 2;
        line.MarkerSize = 7;
        line.LegendText = series.Label;
    }
}
