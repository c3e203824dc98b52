using ScottPlot;

namespace Bnn.Onnx.Cli.Plotting;

/// <summary>
/// ArviZ's <c>plot_rank</c> (Vehtari et al. 2021, §4.1): every draw is ranked among the draws of all chains, and each
/// chain's ranks are shown as a histogram stacked at that chain's row. Well-mixed chains give flat histograms at
/// the dashed line of the uniform expectation. Each row is labelled with its chain on the left axis.
/// </summary>
internal static class RankPlot
{
    public const int PanelWidth = 700;
    public const int PanelHeight = 330;

    /// <summary>ArviZ: Sturges' rule with a multiplier of 2, ⌈2·log₂ n⌉ + 1 bins for n draws per chain.</summary>
    public static int Bins(int drawsPerChain) => (int)Math.Ceiling(2 * Math.Log2(Math.Max(drawsPerChain, 2))) + 1;

    /// <summary>
    /// Per-chain counts of the pooled ranks in <paramref name="bins"/> equal bins over [0, S] (S draws in all), as
    /// <c>[chain][bin]</c>, and the bin edges.
    /// </summary>
    public static (double[][] Counts, double[] Edges) RankHistograms(double[][] draws, int bins)
    {
        var pooled = draws.SelectMany(c => c).ToArray();
        var ranks = Bnn.Onnx.Nuts.ConvergenceDiagnostics.AverageRanks(pooled);
        int total = pooled.Length;
        var edges = Enumerable.Range(0, bins + 1).Select(i => (double)total * i / bins).ToArray();
        var counts = new double[draws.Length][];
        int k = 0;
        for (int c = 0; c < draws.Length; c++)
        {
            counts[c] = new double[bins];
            for (int i = 0; i < draws[c].Length; i++, k++)
            {
                int b = (int)Math.Floor(ranks[k] / total * bins);
                counts[c][Math.Clamp(b, 0, bins - 1)]++;
            }
        }
        return (counts, edges);
    }

    public static void Write(RunDirectory run, IReadOnlyList<string> variables, string path)
    {
        var chains = run.ChainsWithDraws;
        run.Prefetch(variables); // one pass over the draws for every panel
        int columns = variables.Count == 1 ? 1 : 2;
        int rows = (variables.Count + columns - 1) / columns;
        var multiplot = new Multiplot();
        multiplot.AddPlots(variables.Count); // a new Multiplot already holds one plot
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Grid(rows, columns);

        for (int v = 0; v < variables.Count; v++)
        {
            string name = variables[v];
            var draws = run.Column(name);
            int bins = Bins(draws.Min(c => c.Length));
            var (counts, edges) = RankHistograms(draws, bins);
            double gap = counts.Max(c => c.Max()) * 1.05;
            double width = edges[1] - edges[0];

            var plot = multiplot.GetPlot(v);
            var ticks = new double[draws.Length];
            var labels = new string[draws.Length];
            for (int c = 0; c < draws.Length; c++)
            {
                double baseline = c * gap;
                var bars = new List<Bar>();
                for (int b = 0; b < bins; b++)
                    bars.Add(new Bar
                    {
                        Position = edges[b] + width / 2,
                        Value = baseline + counts[c][b],
                        ValueBase = baseline,
                        Size = width * 0.95,
                        FillColor = PlotOutput.ChainColor(chains[c]).WithAlpha(0.8),
                        LineWidth = 0,
                    });
                var barPlot = plot.Add.Bars(bars);
                barPlot.Color = PlotOutput.ChainColor(chains[c]).WithAlpha(0.8);

                // Uniform expectation: this chain's draws spread evenly over the bins.
                double expected = (double)draws[c].Length / bins;
                var reference = plot.Add.Line(edges[0], baseline + expected, edges[^1], baseline + expected);
                reference.LineColor = Colors.Black;
                reference.LinePattern = LinePattern.Dashed;
                reference.LineWidth = 1;
                ticks[c] = baseline + expected;
                labels[c] = PlotOutput.ChainLabel(chains[c]);
            }
            plot.Axes.Left.SetTicks(ticks, labels);
            var (rhat, essBulk, _) = run.Diagnose(name);
            plot.Title($"{name}   R-hat {PlotOutput.F(rhat, "F3")}, ESS bulk {PlotOutput.F(essBulk, "F0")}");
            plot.XLabel("rank (all chains)");
            plot.Axes.SetLimitsX(edges[0], edges[^1]);
            plot.Axes.SetLimitsY(0, gap * draws.Length);
            plot.HideLegend(); // the chain ticks label the coloured rows
        }
        PlotOutput.Save(multiplot, path, PanelWidth * columns, PanelHeight * rows);
    }
}
