using Bnn.Onnx.Cli.Plotting;
using Bnn.Onnx.Export;
using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.Nuts;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Tests;

/// <summary>
/// <c>bnn plot</c> streams the draws file: a plot reads only the columns (or draws) it shows, in one pass, and the
/// values equal what the whole-file reader gives.
/// </summary>
public class PlotStreamingTests(LinregRunFixture fixture) : IClassFixture<LinregRunFixture>
{
    /// <summary>w[0..39] and sigma; w[7] has chains stuck apart and w[23] drifts; chain 2 is empty (an interrupted run).</summary>
    private string WideRun(string name)
    {
        string dir = Path.Combine(fixture.Root, name);
        if (File.Exists(Path.Combine(dir, "draws.parquet"))) return dir;
        var layout = ParameterLayout.FromShapes([("w", [40], BlockTransform.Identity, null), ("sigma", [], BlockTransform.Log, null)]);
        var rng = new Rng(17);
        PlotRuns.Write(dir, layout, chains: 4, draws: 0, (c, d, j) => rng.NextNormal() + j switch
        {
            7 => 3.0 * c,
            23 => 0.5 * c,
            40 => 1.0,
            _ => 0.0,
        }, drawsPerChain: [120, 90, 0, 120]);
        return dir;
    }

    private static double[][] WholeFileColumn(DrawsTable table, string name) =>
        table.Column(name).Where(c => c.Length > 0).ToArray();

    [Fact]
    public void Selection_without_summary_reads_columns_in_batches_and_picks_as_the_whole_file()
    {
        string dir = WideRun("wide-no-summary");
        var table = ParquetDrawReader.Read(Path.Combine(dir, "draws.parquet"));
        var parameters = table.Layout.ScalarNames().Where(n => n != "sigma").ToArray();
        var expected = parameters
            .Select(n => (Name: n, D: RunDirectory.Recompute(WholeFileColumn(table, n))))
            .Where(c => double.IsFinite(c.D.Rhat))
            .OrderByDescending(c => c.D.Rhat)
            .ThenBy(c => Math.Min(c.D.EssBulk, c.D.EssTail))
            .Take(VariableSelection.DefaultWorst)
            .Select(c => c.Name);

        // A budget of 7 columns (330 draws each): 40 parameters in 6 passes, each column read once.
        var run = RunDirectory.Open(dir);
        Assert.Null(run.Summary);
        long budget = 7L * sizeof(double) * run.Draws.TotalDraws;
        var chosen = VariableSelection.Select(run, [], memoryBudgetBytes: budget);
        Assert.Equal(["lp__", "sigma", .. expected], chosen);
        Assert.Equal("w[7]", chosen[2]);
        Assert.Equal(6, run.Draws.Passes);
        Assert.Equal(40, run.ColumnsRead);

        // The batches are not kept: the next column is read again.
        Assert.Equal(WholeFileColumn(table, "w[7]"), run.Column("w[7]"));
        Assert.Equal(41, run.ColumnsRead);

        // The default budget holds every column: one pass, same choice.
        var single = RunDirectory.Open(dir);
        Assert.Equal(chosen, VariableSelection.Select(single, []));
        Assert.Equal(1, single.Draws.Passes);
    }

    [Fact]
    public void Trace_and_rank_read_only_their_panels_in_one_pass()
    {
        string dir = WideRun("wide-trace");
        var table = ParquetDrawReader.Read(Path.Combine(dir, "draws.parquet"));
        Assert.Equal(7 + 41, table.ColumnNames.Count);

        var run = RunDirectory.Open(dir);
        var panels = VariableSelection.Select(run, ["w[1?]"]); // lp__, sigma, w[10..19]
        Assert.Equal(12, panels.Count);
        Assert.Equal(0, run.Draws.Passes); // globs need no column
        TracePlot.Write(run, panels, Path.Combine(fixture.Root, "wide-trace.png"));
        Assert.Equal(1, run.Draws.Passes);
        Assert.Equal(13, run.ColumnsRead); // the panels and divergent__, not the 48 columns of the file
        foreach (var name in panels.Append("divergent__"))
            Assert.Equal(WholeFileColumn(table, name), run.Column(name));
        foreach (var name in panels)
            Assert.Equal(RunDirectory.Recompute(WholeFileColumn(table, name)), run.Diagnose(name));
        Assert.Equal(1, run.Draws.Passes); // answered from the columns kept

        var rank = RunDirectory.Open(dir);
        RankPlot.Write(rank, panels, Path.Combine(fixture.Root, "wide-rank.png"));
        Assert.Equal(1, rank.Draws.Passes);
        Assert.Equal(12, rank.ColumnsRead);
    }

    [Fact]
    public void Sampled_run_plots_from_summary_and_reads_predictive_draws_in_one_pass()
    {
        var run = RunDirectory.Open(fixture.RunDir);
        var table = ParquetDrawReader.Read(Path.Combine(fixture.RunDir, "draws.parquet"));

        // summary.csv lists every parameter: choosing the worst reads no column.
        var panels = VariableSelection.Select(run, []);
        Assert.Equal(["bias[0]", "lp__", "sigma", "weight[0,0]"], panels.Order(StringComparer.Ordinal));
        Assert.Equal(0, run.Draws.Passes);
        Assert.Equal(0, run.ColumnsRead);

        TracePlot.Write(run, panels, Path.Combine(fixture.Root, "streamed-trace.png"));
        Assert.Equal(1, run.Draws.Passes);
        Assert.Equal(panels.Count + 1, run.ColumnsRead);
        foreach (var name in panels) Assert.Equal(WholeFileColumn(table, name), run.Column(name));

        // The predictive plot reads its 400 picked draws in one more pass, and no column.
        var figure = PredictivePlot.Prepare(run, new PredictivePlot.Inputs(null, null, [], []));
        Assert.Equal(2, run.Draws.Passes);
        Assert.Equal(panels.Count + 1, run.ColumnsRead);
        Assert.Equal(400, figure.DrawsUsed);
        Assert.Equal(table.TotalDraws, figure.TotalDraws);

        // The bands are those of the same draws taken from the whole file.
        var picks = PredictivePlot.Thin(table.DrawCounts, PredictivePlot.MaxDraws);
        int sigma = table.Layout.Find("sigma")!.Offset;
        var graph = OnnxImporter.Import(Path.Combine(PlotRuns.Models, "linreg_pytorch.onnx"));
        var grid = figure.Bands.X;
        var outputs = new double[picks.Count][];
        var sigmas = new double[picks.Count];
        using (var function = new CompiledBackend().CompileGraph(graph, new BackendOptions()))
            for (int i = 0; i < picks.Count; i++)
            {
                var theta = table.Draw(picks[i].Chain, picks[i].Draw);
                outputs[i] = new double[grid.Length];
                function.Forward(theta, grid, grid.Length, outputs[i]);
                sigmas[i] = theta[sigma];
            }
        var expected = PredictiveBands.Compute(grid, outputs, sigmas);
        Assert.Equal(expected.Mean, figure.Bands.Mean);
        Assert.Equal(expected.MeanLow, figure.Bands.MeanLow);
        Assert.Equal(expected.MeanHigh, figure.Bands.MeanHigh);
        Assert.Equal(expected.ObservedLow, figure.Bands.ObservedLow);
        Assert.Equal(expected.ObservedHigh, figure.Bands.ObservedHigh);
    }
}
