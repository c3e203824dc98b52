using System.Buffers.Binary;
using System.CommandLine;
using System.Text.Json.Nodes;
using Bnn.Onnx.Cli;
using Bnn.Onnx.Cli.Commands;
using Bnn.Onnx.Cli.Plotting;
using Bnn.Onnx.Cli.Reporting;
using Bnn.Onnx.Export;
using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.Nuts;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Tests;

/// <summary>
/// A sampled run directory (draws.parquet, summary.csv, run.json) of the blog's linear regression, made once with
/// the compiled backend and a few draws, shared by the plot tests.
/// </summary>
public sealed class LinregRunFixture : IDisposable
{
    public LinregRunFixture()
    {
        Root = Directory.CreateTempSubdirectory("bnn-plot-tests-").FullName;
        RunDir = Path.Combine(Root, "linreg");
        PlotRuns.Sample(Path.Combine(PlotRuns.Models, "linreg_pytorch.onnx"), RunDir, chains: 4, warmup: 150, draws: 150, seed: 11);
    }

    public string Root { get; }
    public string RunDir { get; }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>Makes run directories for the plot tests: sampled with NUTS, or written draw by draw.</summary>
internal static class PlotRuns
{
    public static string Models => Path.Combine(RepoRoot(), "models");
    public static string BlogData => Path.Combine(Models, "blog_data.csv");

    private static string RepoRoot([System.Runtime.CompilerServices.CallerFilePath] string source = "")
    {
        foreach (string start in new[] { AppContext.BaseDirectory, Path.GetDirectoryName(source) ?? "." })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Bnn.Onnx.sln"))) return dir.FullName;
        throw new InvalidOperationException("Bnn.Onnx.sln not found");
    }

    /// <summary>Samples y ~ N(f(x; θ), σ) on the blog data into <paramref name="runDir"/> as <c>bnn sample</c> lays it out.</summary>
    public static void Sample(string model, string runDir, int chains, int warmup, int draws, ulong seed)
    {
        Directory.CreateDirectory(runDir);
        var graph = OnnxImporter.Import(model);
        var table = DataFile.Read(BlogData);
        var data = new DataSet(table.Values[table.IndexOf("x")], 1, table.Values[table.IndexOf("y")]);
        var posterior = PosteriorModel.Create(graph, PosteriorOptions.Default, data);
        using var potential = new CompiledBackend().CreatePotential(posterior, new BackendOptions());
        string runJson = RunJson(model, ["x"], EnsembleLikelihood.Normal, seed);
        File.WriteAllText(Path.Combine(runDir, "run.json"), runJson);

        var memory = new InMemoryDrawSink(posterior.Layout.ScalarNames(), chains, draws);
        using (var writer = new ParquetDrawWriter(Path.Combine(runDir, "draws.parquet"), posterior.Layout, chains,
                   new ParquetDrawWriterOptions(RunJson: runJson)))
        {
            var options = new SamplerOptions { Chains = chains, Warmup = warmup, Draws = draws, Seed = seed, MaxParallelism = 2 };
            Sampler.Run(options, _ => potential.CreateLogDensity(), posterior.Layout, new TeeSink(writer, memory));
        }
        using var summary = new StreamWriter(Path.Combine(runDir, "summary.csv"));
        SummaryWriter.WriteCsv(summary, PosteriorSummary.Summarize(memory));
    }

    /// <summary>
    /// Writes a run directory whose draws are given directly: <paramref name="value"/>(chain, draw, scalar index) for
    /// each parameter, lp__ = −Σθ², energy = −lp__ + noise.
    /// </summary>
    public static void Write(string runDir, ParameterLayout layout, int chains, int draws, Func<int, int, int, double> value,
        string? runJson = null, int[]? drawsPerChain = null)
    {
        Directory.CreateDirectory(runDir);
        if (runJson is not null) File.WriteAllText(Path.Combine(runDir, "run.json"), runJson);
        using var writer = new ParquetDrawWriter(Path.Combine(runDir, "draws.parquet"), layout, chains);
        var rng = new Rng(5);
        var theta = new double[layout.Dimension];
        for (int c = 0; c < chains; c++)
            for (int d = 0; d < (drawsPerChain?[c] ?? draws); d++)
            {
                for (int j = 0; j < theta.Length; j++) theta[j] = value(c, d, j);
                double lp = -theta.Sum(t => t * t);
                var stats = new SamplerStats(lp, 0.9, 0.1, 3, 7, d == 5, -lp + rng.NextNormal());
                writer.Write(c, d, stats, theta);
            }
        writer.Complete(interrupted: drawsPerChain is not null);
    }

    /// <summary>A run record as <c>bnn sample</c> writes it when sampling starts, for draws made here.</summary>
    public static RunRecord Record(string model, string[] features, EnsembleLikelihood likelihood, ulong seed, string data = "", double? fixedSigma = null) => new()
    {
        Status = RunStatus.Running,
        CommandLine = "",
        Model = model,
        ModelSha256 = OnnxImporter.Import(model).Sha256,
        Data = data.Length > 0 ? data : BlogData,
        DataSha256 = "",
        Features = features,
        Target = "y",
        Seed = seed,
        Backend = "cpu",
        Device = "cpu",
        Precision = "float64",
        Settings = new RunSettings
        {
            Likelihood = likelihood,
            FixedSigma = fixedSigma,
            PriorScale = 1,
            Priors = [],
            Chains = 4,
            Warmup = 150,
            Draws = 150,
            TargetAccept = 0.8,
            MaxDepth = 10,
            Metric = "diag",
            MetricAdaptation = "stan",
            Init = "prior",
        },
        Outputs = new RunOutputs("draws.parquet", "summary.csv"),
        Versions = new SoftwareVersions("test", Environment.Version.ToString(), ""),
    };

    public static string RunJson(string model, string[] features, EnsembleLikelihood likelihood, ulong seed, string data = "") =>
        Record(model, features, likelihood, seed, data).ToJson();

    private sealed class TeeSink(params IDrawSink[] sinks) : IDrawSink
    {
        public void Write(int chain, int draw, in SamplerStats stats, ReadOnlySpan<double> constrained)
        {
            foreach (var s in sinks) s.Write(chain, draw, stats, constrained);
        }

        public void Complete(bool interrupted)
        {
            foreach (var s in sinks) s.Complete(interrupted);
        }
    }
}

/// <summary><c>bnn plot</c>: every kind writes a real PNG of the documented size; bad input is exit code 2.</summary>
public class PlotCommandTests(LinregRunFixture fixture) : IClassFixture<LinregRunFixture>
{
    private static (int Width, int Height) PngSize(string path)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 1000, $"{path}: only {bytes.Length} bytes");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, bytes[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
        return (BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
    }

    private static RootCommand Cli()
    {
        var root = new RootCommand();
        root.Subcommands.Add(PlotCommand.Create());
        return root;
    }

    [Theory]
    [InlineData("trace")]
    [InlineData("rank")]
    [InlineData("energy")]
    [InlineData("predictive")]
    public void Each_kind_writes_a_png_of_the_documented_size_at_the_default_path(string kind)
    {
        string expected = Path.Combine(fixture.RunDir, kind + ".png");
        File.Delete(expected);
        Assert.Equal(0, CliRunner.Run(Cli(), ["plot", fixture.RunDir, "--kind", kind]));

        var (width, height) = PngSize(expected);
        // linreg: lp__, sigma and its two weights (fewer than the default four worst).
        switch (kind)
        {
            case "trace":
                Assert.Equal((TracePlot.Width, 4 * TracePlot.RowHeight), (width, height));
                break;
            case "rank":
                Assert.Equal((2 * RankPlot.PanelWidth, 2 * RankPlot.PanelHeight), (width, height));
                break;
            case "energy":
                Assert.Equal((EnergyPlot.Width, EnergyPlot.Height), (width, height));
                break;
            default:
                Assert.Equal((PredictivePlot.Width, PredictivePlot.Height), (width, height));
                break;
        }
    }

    [Fact]
    public void Vars_and_out_choose_the_panels_and_the_file()
    {
        string output = Path.Combine(fixture.Root, "weight-trace.png");
        Assert.Equal(0, CliRunner.Run(Cli(), ["plot", fixture.RunDir, "--kind", "trace", "--vars", "weight*", "--out", output]));
        Assert.Equal((TracePlot.Width, 3 * TracePlot.RowHeight), PngSize(output)); // lp__, sigma, the weight

        var run = RunDirectory.Open(fixture.RunDir);
        Assert.Equal(["lp__", "sigma", "weight[0,0]"], VariableSelection.Select(run, ["weight*"]));
        Assert.Equal(["lp__", "sigma", "bias[0]", "weight[0,0]"], VariableSelection.Select(run, ["*bias*", "weight[0,0]"]));
        Assert.Equal(["lp__", "sigma", "weight[0,0]"], VariableSelection.Select(run, ["weight[?,0]"]));
        Assert.Throws<UsageException>(() => VariableSelection.Select(run, ["2.weight*"]));
    }

    [Fact]
    public void Worst_mixing_parameters_come_first_by_rhat()
    {
        string dir = Path.Combine(fixture.Root, "stuck");
        var layout = ParameterLayout.FromShapes([("w", [6], BlockTransform.Identity, null), ("sigma", [], BlockTransform.Log, null)]);
        var rng = new Rng(3);
        // w[4] has chains stuck at different levels, w[1] drifts slightly; the rest are iid.
        PlotRuns.Write(dir, layout, chains: 4, draws: 200, (c, d, j) => rng.NextNormal() + j switch
        {
            4 => 3.0 * c,
            1 => 0.4 * c,
            6 => 2.0,
            _ => 0.0,
        });
        var run = RunDirectory.Open(dir);
        Assert.Null(run.Summary); // no summary.csv: recomputed
        var chosen = VariableSelection.Select(run, [], worst: 2);
        Assert.Equal(["lp__", "sigma", "w[4]", "w[1]"], chosen);
    }

    [Fact]
    public void Interrupted_runs_with_uneven_chains_still_plot()
    {
        string dir = Path.Combine(fixture.Root, "interrupted");
        var layout = ParameterLayout.FromShapes([("w", [2], BlockTransform.Identity, null), ("sigma", [], BlockTransform.Log, null)]);
        var rng = new Rng(9);
        PlotRuns.Write(dir, layout, chains: 3, draws: 0, (c, d, j) => rng.NextNormal() + (j == 2 ? 3 : 0), drawsPerChain: [40, 25, 0]);
        var run = RunDirectory.Open(dir);
        Assert.True(run.Draws.Interrupted);
        Assert.Equal([0, 1], run.ChainsWithDraws);
        foreach (var kind in new[] { "trace", "rank", "energy" })
            Assert.True(PngSize(PlotCommand.Run(dir, kind, [], null)).Width > 0);
    }

    [Fact]
    public void Summary_csv_is_read_with_quoted_names_and_NA()
    {
        var run = RunDirectory.Open(fixture.RunDir);
        Assert.NotNull(run.Summary);
        var row = run.Summary!["weight[0,0]"];
        var recomputed = RunDirectory.Recompute(run.Column("weight[0,0]"));
        Assert.Equal(recomputed.Rhat, row.Rhat, 12);
        Assert.Equal(recomputed.EssBulk, row.EssBulk, 9);

        string path = Path.Combine(fixture.Root, "summary-na.csv");
        File.WriteAllText(path, "variable,mean,sd,median,q5,q95,mcse_mean,mcse_sd,ess_bulk,ess_tail,rhat\n\"a[1,2]\",1,2,3,4,5,NA,NA,6,7,NA\n");
        var parsed = RunDirectory.ReadSummary(path)["a[1,2]"];
        Assert.Equal(6, parsed.EssBulk);
        Assert.True(double.IsNaN(parsed.Rhat));
    }

    [Fact]
    public void Rank_histograms_rank_all_chains_together()
    {
        // Chain 0 holds the 100 smallest values, chain 1 the next 100: each fills its own half of the ranks.
        double[][] draws = [Enumerable.Range(0, 100).Select(i => (double)i).ToArray(), Enumerable.Range(100, 100).Select(i => (double)i).ToArray()];
        int bins = RankPlot.Bins(100);
        Assert.Equal(15, bins); // ⌈2·log₂ 100⌉ + 1
        var (counts, edges) = RankPlot.RankHistograms(draws, bins);
        Assert.Equal(200, edges[^1]);
        Assert.Equal(100, counts[0].Sum());
        Assert.Equal(100, counts[1].Sum());
        Assert.Equal(0, counts[0][((bins + 1) / 2)..].Sum());
        Assert.Equal(0, counts[1][..(bins / 2)].Sum());

        // Interleaved chains: every bin gets draws of both.
        double[][] mixed = [Enumerable.Range(0, 100).Select(i => 2.0 * i).ToArray(), Enumerable.Range(0, 100).Select(i => 2.0 * i + 1).ToArray()];
        var (mixedCounts, _) = RankPlot.RankHistograms(mixed, bins);
        Assert.All(mixedCounts, chain => Assert.All(chain, n => Assert.InRange(n, 5, 8)));
    }

    [Fact]
    public void Energy_transitions_stay_within_chains()
    {
        double[][] energy = [[1, 2, 4], [10, 10, 13]];
        var (marginal, transitions) = EnergyPlot.Series(energy);
        Assert.Equal([1, 2, 0, 3], transitions);
        Assert.Equal(0, marginal.Sum(), 12);
        Assert.Equal(1 - 40.0 / 6, marginal[0], 12);
    }

    [Fact]
    public void Mixture_quantiles_match_the_normal_quantile()
    {
        Assert.Equal(0.975, PredictiveBands.NormalCdf(1.959963984540054), 6);
        Assert.Equal(2 + 3 * 1.6448536269514722, PredictiveBands.MixtureQuantile([2.0], [3.0], 0.95), 5);
        // Two far-apart equal components: the 5% quantile is the lower one's 10% quantile.
        Assert.Equal(-100 - 1.2815515655446004, PredictiveBands.MixtureQuantile([-100.0, 100.0], [1.0, 1.0], 0.05), 4);
    }

    [Fact]
    public void Predictive_bands_nest_and_cover_the_data()
    {
        var run = RunDirectory.Open(fixture.RunDir);
        var figure = PredictivePlot.Prepare(run, new PredictivePlot.Inputs(null, null, [], []));
        var b = figure.Bands;
        Assert.Equal(400, figure.DrawsUsed);
        Assert.Equal(600, figure.TotalDraws);
        Assert.Equal(100, figure.DataX.Length);
        // Data x in [-1, 1]: the grid is widened by 15% of the width on each side.
        Assert.Equal(-1.3, b.X[0], 9);
        Assert.Equal(1.3, b.X[^1], 9);
        for (int g = 0; g < b.X.Length; g++)
        {
            Assert.True(b.ObservedLow[g] < b.MeanLow[g] && b.MeanLow[g] <= b.Mean[g] && b.Mean[g] <= b.MeanHigh[g] && b.MeanHigh[g] < b.ObservedHigh[g],
                $"bands do not nest at x = {b.X[g]}");
        }
        // About 90% of the observations fall inside the band for new observations (binomial sd 3 points for 100).
        int inside = 0;
        for (int i = 0; i < figure.DataX.Length; i++)
        {
            int g = Array.BinarySearch(b.X, figure.DataX[i]);
            g = g >= 0 ? g : Math.Min(~g, b.X.Length - 1);
            if (figure.DataY[i] >= b.ObservedLow[g] && figure.DataY[i] <= b.ObservedHigh[g]) inside++;
        }
        Assert.InRange(inside, 80, 98);
        // The linear model's mean is a straight line with the blog's slope (beta ≈ 1.24).
        double slope = (b.Mean[^1] - b.Mean[0]) / (b.X[^1] - b.X[0]);
        Assert.InRange(slope, 1.0, 1.5);
    }

    [Fact]
    public void Bad_input_is_exit_code_2_with_the_right_exception()
    {
        Assert.Throws<DirectoryNotFoundException>(() => PlotCommand.Run(Path.Combine(fixture.Root, "absent"), "trace", [], null));
        Assert.Throws<UsageException>(() => PlotCommand.Run(fixture.RunDir, "violin", [], null));
        Assert.Throws<UsageException>(() => PlotCommand.Run(fixture.RunDir, "energy", ["sigma"], null));
        Assert.Throws<UsageException>(() => PlotCommand.Run(fixture.RunDir, "trace", [], Path.Combine(fixture.Root, "trace.svg")));
        Assert.Throws<UsageException>(() => PlotCommand.Run(fixture.RunDir, "predictive", [], null,
            new PredictivePlot.Inputs(null, null, ["x", "eps"], [])));
        var empty = Directory.CreateTempSubdirectory("bnn-plot-empty-").FullName;
        try
        {
            Assert.Throws<FileNotFoundException>(() => PlotCommand.Run(empty, "trace", [], null));
        }
        finally
        {
            Directory.Delete(empty);
        }
        Assert.Equal(CliRunner.ExitBadInput, CliRunner.Run(Cli(), ["plot", fixture.RunDir, "--kind", "violin"]));
        Assert.Equal(CliRunner.ExitBadInput, CliRunner.Run(Cli(), ["plot", Path.Combine(fixture.Root, "absent"), "--kind", "rank"]));
        Assert.Equal(CliRunner.ExitBadInput, CliRunner.Run(Cli(), ["plot", fixture.RunDir])); // --kind is required
    }

    [Fact]
    public void Predictive_refuses_runs_without_sigma_and_multi_feature_models()
    {
        // Fixed-sigma run that records no sigma: no noise band.
        string linreg = Path.Combine(PlotRuns.Models, "linreg_pytorch.onnx");
        var graph = OnnxImporter.Import(linreg);
        var noSigma = ParameterLayout.FromShapes(graph.Parameters.Select(p => (p.Name, p.Shape, BlockTransform.Identity, (string?)p.OnnxName)));
        string dir = Path.Combine(fixture.Root, "no-sigma");
        PlotRuns.Write(dir, noSigma, chains: 2, draws: 20, (c, d, j) => 0.1 * j, PlotRuns.RunJson(linreg, ["x"], EnsembleLikelihood.Normal, 1));
        var error = Assert.Throws<InvalidDataException>(() => PlotCommand.Run(dir, "predictive", [], null));
        Assert.Contains("sigma", error.Message);
        Assert.DoesNotContain('\n', error.Message);

        // With the fixed sigma recorded, the band is drawn.
        File.WriteAllText(Path.Combine(dir, "run.json"), PlotRuns.Record(linreg, ["x"], EnsembleLikelihood.Normal, 1, fixedSigma: 0.3).ToJson());
        Assert.Equal(PredictivePlot.Width, PngSize(PlotCommand.Run(dir, "predictive", [], null)).Width);

        // A bernoulli run is not regression.
        File.WriteAllText(Path.Combine(dir, "run.json"), PlotRuns.RunJson(linreg, ["x"], EnsembleLikelihood.Bernoulli, 1));
        Assert.Throws<UsageException>(() => PlotCommand.Run(dir, "predictive", [], null));

        // An 8-feature model.
        string wide = Path.Combine(PlotRuns.Models, "regression8_tanh_pytorch.onnx");
        var wideGraph = OnnxImporter.Import(wide);
        var wideLayout = ParameterLayout.FromShapes(wideGraph.Parameters.Select(p => (p.Name, p.Shape, BlockTransform.Identity, (string?)p.OnnxName))
            .Append(("sigma", Array.Empty<int>(), BlockTransform.Log, null)));
        string wideDir = Path.Combine(fixture.Root, "wide");
        string[] features = Enumerable.Range(0, 8).Select(i => $"x{i + 1}").ToArray();
        PlotRuns.Write(wideDir, wideLayout, chains: 1, draws: 10, (c, d, j) => 0.5, PlotRuns.RunJson(wide, features, EnsembleLikelihood.Normal, 1,
            Path.Combine(PlotRuns.Models, "regression8_data.csv")));
        Assert.Throws<UsageException>(() => PlotCommand.Run(wideDir, "predictive", [], null));
        // Naming one feature does not make the model take one input.
        Assert.Throws<UsageException>(() => PlotCommand.Run(wideDir, "predictive", [], null, new PredictivePlot.Inputs(null, null, ["x1"], [])));
        Assert.Equal(0, CliRunner.Run(Cli(), ["plot", wideDir, "--kind", "trace"]));
    }
}
