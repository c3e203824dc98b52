using ScottPlot;

namespace Bnn.Onnx.Cli.Plotting;

/// <summary>
/// ArviZ's <c>plot_trace</c>: one row per variable, the per-chain density on the left and the per-chain trace on
/// the right (one colour per chain); divergent draws are marked on the trace in black.
/// </summary>
internal static class TracePlot
{
    public const int Width = 1400;
    public const int RowHeight = 260;

    public static void Write(RunDirectory run, IReadOnlyList<string> variables, string path)
    {
        var chains = run.ChainsWithDraws;
        run.Prefetch(variables.Append("divergent__")); // one pass over the draws for every panel
        var divergent = run.Column("divergent__");
        var multiplot = new Multiplot();
        multiplot.AddPlots(2 * variables.Count); // a new Multiplot already holds one plot
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Grid(variables.Count, 2);

        for (int v = 0; v < variables.Count; v++)
        {
            string name = variables[v];
            var draws = run.Column(name);
            var (rhat, essBulk, essTail) = run.Diagnose(name);

            var density = multiplot.GetPlot(2 * v);
            var finite = draws.Select(c => c.Where(double.IsFinite).ToArray()).ToArray();
            var pooled = finite.SelectMany(c => c).ToArray();
            if (pooled.Length == 0) throw new InvalidDataException($"{run.Path}: '{name}' has no finite draws");
            double h = Density.Bandwidth(pooled);
            var grid = Density.Grid(pooled, h);
            for (int c = 0; c < draws.Length; c++)
            {
                if (finite[c].Length < 2) continue;
                var line = density.Add.ScatterLine(grid, Density.Estimate(finite[c], grid, h), PlotOutput.ChainColor(chains[c]));
                line.LineWidth = 1.5f;
                line.LegendText = PlotOutput.ChainLabel(chains[c]);
            }
            density.Title(name);
            density.XLabel(name);
            density.YLabel("density");

            var trace = multiplot.GetPlot(2 * v + 1);
            var divergentX = new List<double>();
            var divergentY = new List<double>();
            for (int c = 0; c < draws.Length; c++)
            {
                var xs = Enumerable.Range(0, draws[c].Length).Select(i => (double)i).ToArray();
                var line = trace.Add.ScatterLine(xs, draws[c], PlotOutput.ChainColor(chains[c]));
                line.LineWidth = 1;
                line.LegendText = PlotOutput.ChainLabel(chains[c]);
                for (int i = 0; i < draws[c].Length; i++)
                    if (divergent[c][i] != 0)
                    {
                        divergentX.Add(i);
                        divergentY.Add(draws[c][i]);
                    }
            }
            if (divergentX.Count > 0)
            {
                var markers = trace.Add.Markers(divergentX.ToArray(), divergentY.ToArray(), MarkerShape.FilledCircle, 5, Colors.Black);
                if (v == 0) markers.LegendText = "divergent";
            }
            string divergences = divergentX.Count == 0 ? "" : $", {divergentX.Count} divergent";
            trace.Title($"{name}   R-hat {PlotOutput.F(rhat, "F3")}, ESS bulk {PlotOutput.F(essBulk, "F0")}, tail {PlotOutput.F(essTail, "F0")}{divergences}");
            trace.XLabel("draw (after warmup)");
            trace.YLabel(name);
            // The chain legend above both panels of the first row, so the rows keep equal heights.
            foreach (var panel in new[] { density, trace })
            {
                if (v == 0)
                {
                    panel.ShowLegend(Edge.Top);
                    panel.Legend.FontSize = 11;
                }
                else panel.HideLegend();
            }
        }
        PlotOutput.Save(multiplot, path, Width, RowHeight * variables.Count);
    }
}
