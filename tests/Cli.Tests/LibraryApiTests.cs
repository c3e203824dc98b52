using System.Globalization;
using Bnn.Onnx.Tests.TestSupport;

namespace Bnn.Onnx.Tests;

/// <summary>
/// The library API (namespace <c>Bnn.Onnx</c>) against the <c>bnn</c> command line: the same pipeline, so the same
/// seed gives the same files, and the predictor gives what <c>bnn predict</c> prints.
/// </summary>
public class LibraryApiTests
{
    private const ulong Seed = 7;

    private static SampleOptions ShortRun(string outDir) =>
        new() { Chains = 2, Warmup = 150, Draws = 100, Seed = Seed, OutputDirectory = outDir };

    /// <summary>The blog's 100 points: feature x, target y.</summary>
    private static DataTable BlogData() => DataTable.FromCsv(Repo.Model("blog_data.csv"), target: "y", features: ["x"]);

    [Fact]
    public void Given_a_seed_When_sampled_through_the_api_and_the_cli_Then_the_summary_predictive_draws_and_ensemble_are_identical()
    {
        using var dir = new TempDir();
        var cli = Runs.SampleLinreg(dir["cli"], Seed);
        Assert.True(cli.ExitCode == 0, cli.ToString());

        var progress = new List<SampleProgress>();
        var model = BnnModel.Import(Repo.Model("linreg_pytorch.onnx"));
        var run = model.Sample(BlogData(), ShortRun(dir["api"]),
            new SynchronousProgress(p => { lock (progress) progress.Add(p); }));

        Assert.Equal(["weight", "bias"], model.Parameters.Select(p => p.Name));
        Assert.Equal(2, model.ParameterCount);
        foreach (var file in new[] { "summary.csv", "predictive.csv" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(dir["cli"], file)), File.ReadAllBytes(Path.Combine(dir["api"], file)));
        var fromCli = PosteriorRun.Open(dir["cli"]);
        Assert.Equal(fromCli.Summary, run.Summary);
        Assert.Equal(fromCli.Diagnostics.Converged, run.Converged);
        var printed = cli.Stdout.ReplaceLineEndings("\n").Split('\n');
        Assert.Equal(printed.Where(l => l.StartsWith("warning: ", StringComparison.Ordinal)).Select(l => l["warning: ".Length..]), run.Diagnostics.Warnings);
        Assert.Contains($"{(run.Converged ? "converged" : "NOT converged")}: {run.Diagnostics.Verdict}", printed);
        Assert.Equal(Seed, run.Seed);
        Assert.False(run.Interrupted);
        Assert.Equal(run.Summary.Select(r => r.Variable).Take(4), ["weight[0,0]", "bias[0]", "sigma", "lp__"]);
        Assert.Equal(200, run.Draws.TotalDraws);
        foreach (var variable in run.Draws.Variables)
            Assert.Equal(fromCli.Draws.Read(variable), run.Draws.Read(variable));
        Assert.Contains(progress, p => p.Phase == SamplingPhase.Done && p.Iteration == 250);

        // The ensemble the API writes is the one bnn export writes.
        string ensemble = run.ExportEnsemble(members: 20);
        var export = BnnProcess.Run("export", dir["cli"], "--members", "20");
        Assert.True(export.ExitCode == 0, export.ToString());
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir["cli"], "ensemble.onnx")), File.ReadAllBytes(ensemble));
    }

    [Fact]
    public void Given_the_output_layer_integrated_When_sampled_through_the_api_and_the_cli_Then_the_files_are_identical()
    {
        using var dir = new TempDir();
        var cli = Runs.SampleLinreg(dir["cli"], Seed, "--integrate-output");
        Assert.True(cli.ExitCode == 0, cli.ToString());

        var run = BnnModel.Import(Repo.Model("linreg_pytorch.onnx"))
            .Sample(BlogData(), ShortRun(dir["api"]) with { IntegrateOutput = true });

        foreach (var file in new[] { "summary.csv", "predictive.csv" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(dir["cli"], file)), File.ReadAllBytes(Path.Combine(dir["api"], file)));
        using var record = Runs.ReadRunJson(dir["api"]);
        Assert.True(record.RootElement.GetProperty("settings").GetProperty("integrate_output").GetBoolean());
        foreach (var variable in run.Draws.Variables)
            Assert.Equal(PosteriorRun.Open(dir["cli"]).Draws.Read(variable), run.Draws.Read(variable));
    }

    [Fact]
    public void Given_an_ensemble_When_the_predictor_runs_Then_it_gives_what_bnn_predict_prints()
    {
        using var dir = new TempDir();
        var run = BnnModel.Import(Repo.Model("linreg_pytorch.onnx"))
            .Sample(BlogData(), ShortRun(dir["run"]));
        string ensemblePath = run.ExportEnsemble(dir["ensemble.onnx"], members: 30);
        string input = dir.Write("x.csv", "-1.5\n0\n0.25\n2\n");
        var cli = BnnProcess.Run("predict", ensemblePath, "--input", input, "--interval", "0.8");
        Assert.True(cli.ExitCode == 0, cli.ToString());

        using var predictor = EnsemblePredictor.Open(ensemblePath);
        var prediction = predictor.Predict(new double[,] { { -1.5 }, { 0 }, { 0.25 }, { 2 } }, interval: 0.8);

        Assert.Equal(30, predictor.MemberCount);
        Assert.Equal(ModelLikelihood.Normal, predictor.Likelihood);
        Assert.Null(prediction.ClassProbabilities);
        var lines = cli.Stdout.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("mean_0,std_0,lower_0,upper_0", lines[0]);
        for (int i = 0; i < 4; i++)
        {
            var cells = lines[i + 1].Split(',').Select(c => double.Parse(c, CultureInfo.InvariantCulture)).ToArray();
            Assert.Equal(new[] { prediction.Mean[i, 0], prediction.Std[i, 0], prediction.Lower[i, 0], prediction.Upper[i, 0] }, cells);
        }
        var rows = predictor.Predict([[-1.5], [0.0], [0.25], [2.0]], interval: 0.8);
        Assert.Equal(prediction.Mean, rows.Mean);
    }

    [Fact]
    public void Given_arrays_When_sampled_Then_the_draws_equal_those_of_the_same_table_read_from_csv()
    {
        using var dir = new TempDir();
        var (x, y) = Runs.BlogData();
        var features = new double[x.Length, 1];
        for (int i = 0; i < x.Length; i++) features[i, 0] = x[i];
        var model = BnnModel.Import(Repo.Model("linreg_pytorch.onnx"));

        var fromArrays = model.Sample(DataTable.FromArrays(features, y, ["x"], "y"), ShortRun(dir["arrays"]));
        var fromCsv = model.Sample(BlogData(), ShortRun(dir["csv"]));

        Assert.True(File.Exists(Path.Combine(dir["arrays"], "data.csv")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir["csv"], "summary.csv")), File.ReadAllBytes(Path.Combine(dir["arrays"], "summary.csv")));
        Assert.Equal(fromCsv.Summary, fromArrays.Summary);
    }

    [Fact]
    public void Given_sampling_under_way_When_the_token_is_cancelled_Then_it_throws_and_leaves_an_interrupted_run()
    {
        using var dir = new TempDir();
        using var cancel = new CancellationTokenSource();
        var model = BnnModel.Import(Repo.Model("linreg_pytorch.onnx"));
        var options = ShortRun(dir["run"]) with { Warmup = 1000, Draws = 100_000 };

        Assert.ThrowsAny<OperationCanceledException>(() => model.Sample(BlogData(), options,
            new SynchronousProgress(p => { if (p.Phase == SamplingPhase.Sampling) cancel.Cancel(); }), cancel.Token));
        var run = PosteriorRun.Open(dir["run"]);
        Assert.True(run.Interrupted);
        Assert.InRange(run.Draws.TotalDraws, 1, 2 * 100_000 - 1);
    }

    [Fact]
    public void Given_a_token_cancelled_before_sampling_starts_Then_it_throws_and_leaves_a_readable_interrupted_run()
    {
        using var dir = new TempDir();
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => BnnModel.Import(Repo.Model("linreg_pytorch.onnx"))
            .Sample(BlogData(), ShortRun(dir["run"]), cancellationToken: cts.Token));
        Assert.True(PosteriorRun.Open(dir["run"]).Interrupted);
    }

    [Fact]
    public void Given_bad_input_Then_the_api_throws_the_documented_exceptions()
    {
        using var dir = new TempDir();
        var model = BnnModel.Import(Repo.Model("linreg_pytorch.onnx"));
        var data = BlogData();

        Assert.Throws<FileNotFoundException>(() => BnnModel.Import(dir["missing.onnx"]));
        Assert.Throws<InvalidDataException>(() => DataTable.FromCsv(Repo.Model("blog_data.csv"), target: "nope"));
        Assert.ThrowsAny<ArgumentException>(() => model.Sample(data, ShortRun(dir["a"]) with { Chains = 0 }));
        Assert.ThrowsAny<ArgumentException>(() => model.Sample(data, ShortRun(dir["b"]) with { PriorScale = "wide" }));
        Assert.ThrowsAny<ArgumentException>(() => DataTable.FromArrays(new double[2, 1], [1.0]));
        Assert.Throws<DirectoryNotFoundException>(() => PosteriorRun.Open(dir["nothing"]));
    }

    /// <summary>Reports on the sampling threads themselves (Progress&lt;T&gt; would post them later).</summary>
    private sealed class SynchronousProgress(Action<SampleProgress> report) : IProgress<SampleProgress>
    {
        public void Report(SampleProgress value) => report(value);
    }
}
