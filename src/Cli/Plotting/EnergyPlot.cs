using ScottPlot;

namespace Bnn.Onnx.Cli.Plotting;

/// <summary>
/// ArviZ's <c>plot_energy</c> (Betancourt 2016, "Diagnosing suboptimal cotangent disintegrations"): the marginal
/// energy distribution (E − mean E) against the energy transitions (Eₙ − Eₙ₋₁ within each chain), with E-BFMI per
/// chain. When the transition density is much narrower than the marginal one, momentum resampling cannot move the
/// sampler across energy levels (E-BFMI below 0.3).
/// </summary>
internal static class EnergyPlot
{
    public const int Width = 1000;
    public const int Height = 620;

    /// <summary>Pooled E − mean(E), and pooled within-chain differences Eₙ − Eₙ₋₁.</summary>
    public static (double[] Marginal, double[] Transitions) Series(double[][] energy)
    {
        var pooled = energy.SelectMany(c => c).ToArray();
        double mean = pooled.Average();
        var marginal = pooled.Select(e => e - mean).ToArray();
        var transitions = energy.SelectMany(c => c.Skip(1).Select((e, i) => e - c[i])).ToArray();
        return (marginal, transitions);
    }

    public static void Write(RunDirectory run, string path)
    {
        var chains = run.ChainsWithDraws;
        var energy = run.Column("energy__");
        if (energy.All(c => c.Length < 2))
            throw new InvalidDataException($"{run.Path}: the energy plot needs at least 2 draws in a chain");
        var (marginal, transitions) = Series(energy);
        var ebfmi = energy.Select(c => Bnn.Onnx.Nuts.ConvergenceDiagnostics.Ebfmi(c)).ToArray();

        double h = Math.Max(Density.Bandwidth(marginal), Density.Bandwidth(transitions));
        var grid = Density.Grid(marginal.Concat(transitions), h, 300);
        using var plot = new Plot();
        Add(plot, grid, Density.Estimate(marginal, grid), Colors.C0, "marginal energy (E − mean E)");
        Add(plot, grid, Density.Estimate(transitions, grid), Colors.C1, "energy transition (Eₙ − Eₙ₋₁)");

        for (int c = 0; c < chains.Count; c++)
        {
            bool low = ebfmi[c] < Bnn.Onnx.Nuts.StanWarnings.EbfmiThreshold;
            plot.Legend.ManualItems.Add(new LegendItem
            {
                LabelText = $"{PlotOutput.ChainLabel(chains[c])}: E-BFMI {PlotOutput.F(ebfmi[c], "F2")}{(low ? " (low)" : "")}",
                LineColor = PlotOutput.ChainColor(chains[c]),
                LineWidth = 0,
                MarkerShape = MarkerShape.FilledSquare,
                MarkerFillColor = PlotOutput.ChainColor(chains[c]),
                MarkerLineColor = PlotOutput.ChainColor(chains[c]),
                MarkerSize = 8,
            });
        }
        plot.ShowLegend(Alignment.UpperRight);
        int lowCount = ebfmi.Count(e => e < Bnn.Onnx.Nuts.StanWarnings.EbfmiThreshold);
        plot.Title(lowCount == 0
            ? $"Energy: E-BFMI {PlotOutput.F(ebfmi.Min(), "F2")}–{PlotOutput.F(ebfmi.Max(), "F2")} over {chains.Count} chain{(chains.Count == 1 ? "" : "s")}"
            : $"Energy: E-BFMI below 0.3 in {lowCount} of {chains.Count} chains");
        plot.XLabel("energy (centred)");
        plot.YLabel("density");
        plot.Axes.Margins(bottom: 0);
        PlotOutput.Save(plot, path, Width, Height);
    }

    private static void Add(Plot plot, double[] grid, double[] density, Color color, string label)
    {
        var fill = plot.Add.FillY(grid, new double[grid.Length], density);
        fill.FillColor = color.WithAlpha(0.35);
        fill.LineWidth = 0;
        var line = plot.Add.ScatterLine(grid, density, color);
        line.LineWidth = 2;
        line.LegendText = label;
    }
}
