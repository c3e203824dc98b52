using System.Globalization;
using System.Text;
using Bnn.Onnx.Export;
using Bnn.Onnx.Nuts;
using Bnn.Onnx.Tests.TestSupport;

namespace Bnn.Onnx.Tests;

/// <summary>
/// <c>bnn sample --integrate-output</c> through the real sample path: the output layer integrated out exactly gives the
/// same posterior as sampling it (the blog's linear regression against its exact posterior, a small tanh network
/// against the full sampler), its draws do not depend on the threads, run.json records it, and models or settings it
/// cannot apply to are refused with exit 2.
/// </summary>
public class IntegrateOutputTests
{
    /// <summary>
    /// Given the blog's linear regression (the output layer is the whole network, so NUTS samples σ alone), when it is
    /// sampled with the output layer integrated out, then draws.parquet holds the weight and the bias in their usual
    /// columns and they and σ match the exact posterior (means within 4 MCSE, sds within 10%), and run.json says
    /// <c>integrate_output: true</c>.
    /// </summary>
    [SharedFact("reference/seed/linreg_exact.json")]
    public void Linear_regression_matches_the_exact_posterior()
    {
        using var dir = new TempDir("bnn-integrate-linreg-");
        var result = BnnProcess.Run(["sample", Repo.Model("linreg_pytorch.onnx"), "--data", Repo.Model("blog_data.csv"),
            "--features", "x", "--target", "y", "--out", dir["run"], "--seed", "2021", "--chains", "4", "--warmup", "1000",
            "--draws", "1000", "--no-progress", "--integrate-output"]);
        Assert.True(result.ExitCode == 0, result.ToString());

        using var exact = System.Text.Json.JsonDocument.Parse(File.ReadAllText(SharedFolder.Path("reference", "seed", "linreg_exact.json")));
        var draws = ParquetDrawReader.Read(Path.Combine(dir["run"], "draws.parquet"));
        foreach (var (column, name) in new[] { ("bias[0]", "alpha"), ("weight[0,0]", "beta"), ("sigma", "sigma") })
        {
            var row = PosteriorSummary.Summarize(column, draws.Column(column));
            double mean = exact.RootElement.GetProperty(name).GetProperty("mean").GetDouble();
            double sd = exact.RootElement.GetProperty(name).GetProperty("sd").GetDouble();
            Assert.True(Math.Abs(row.Mean - mean) < 4 * row.McseMean, $"{name}: mean {row.Mean} vs exact {mean} (MCSE {row.McseMean})");
            Assert.True(Math.Abs(row.Sd - sd) < 0.1 * sd, $"{name}: sd {row.Sd} vs exact {sd}");
            Assert.True(row.Rhat < 1.01 && row.EssBulk > 400, $"{name}: {row}");
        }
        using var json = Runs.ReadRunJson(dir["run"]);
        Assert.True(json.RootElement.GetProperty("settings").GetProperty("integrate_output").GetBoolean());
    }

    /// <summary>
    /// Given a 1→8 tanh→1 network on 30 of the blog's points, when it is sampled with every weight (the full posterior)
    /// and with the output layer integrated out, then σ and the predictive means at every point agree within 4
    /// combined MCSE, and the integrated run's draws.parquet has the same columns as the full run's.
    /// </summary>
    [Fact]
    public void Collapsed_and_full_posteriors_agree_on_a_small_network()
    {
        using var dir = new TempDir("bnn-integrate-small-");
        var (x, y) = Runs.BlogData();
        var csv = new StringBuilder("x,y\n");
        for (int i = 0; i < x.Length; i += 3) csv.Append(CultureInfo.InvariantCulture, $"{x[i]:R},{y[i]:R}\n");
        string data = dir.Write("data.csv", csv.ToString());

        CliResult Run(string name, params string[] extra) => BnnProcess.Run(["sample", Repo.Model("tanh_pytorch_op17.onnx"),
            "--data", data, "--out", dir[name], "--seed", "11", "--chains", "4", "--warmup", "1000", "--draws", "1000",
            "--max-depth", "8", "--no-progress", .. extra]);
        var full = Run("full");
        var collapsed = Run("collapsed", "--integrate-output");
        Assert.True(full.ExitCode == 0, full.ToString());
        Assert.True(collapsed.ExitCode == 0, collapsed.ToString());

        var a = CsvTable.Read(Path.Combine(dir["full"], "summary.csv"));
        var b = CsvTable.Read(Path.Combine(dir["collapsed"], "summary.csv"));
        var compared = a.Keys.Where(k => k == "sigma" || k.StartsWith("mu[", StringComparison.Ordinal)).ToArray();
        Assert.Equal(1 + 34, compared.Length);
        foreach (var key in compared)
        {
            double difference = Math.Abs(a.Value(key, "mean") - b.Value(key, "mean"));
            double mcse = Math.Sqrt(Math.Pow(a.Value(key, "mcse_mean"), 2) + Math.Pow(b.Value(key, "mcse_mean"), 2));
            Assert.True(difference < 4 * mcse, $"{key}: full {a.Value(key, "mean")}, integrated {b.Value(key, "mean")} (combined MCSE {mcse})");
        }
        Assert.Equal(ParquetDrawReader.Read(Path.Combine(dir["full"], "draws.parquet")).ColumnNames,
            ParquetDrawReader.Read(Path.Combine(dir["collapsed"], "draws.parquet")).ColumnNames);
    }

    /// <summary>
    /// Given one seed, when the blog's network is sampled with its output layer integrated out on one thread and on
    /// two (chains in parallel, two threads per chain), then every value of draws.parquet is the same bits: the output
    /// weights are drawn from each chain's own stream; and the run exports to an ensemble like any other.
    /// </summary>
    [Fact]
    public void Same_seed_gives_the_same_draws_on_any_number_of_threads()
    {
        using var dir = new TempDir("bnn-integrate-threads-");
        CliResult Run(string name, string threads) => BnnProcess.Run(["sample", Repo.Model("blog_mlp_pytorch.onnx"),
            "--data", Repo.Model("blog_data.csv"), "--features", "x", "--target", "y", "--out", dir[name], "--seed", "5",
            "--chains", "2", "--warmup", "60", "--draws", "40", "--max-depth", "6", "--no-progress", "--integrate-output",
            "--parallel-chains", threads, "--threads-per-chain", threads]);
        var one = Run("one", "1");
        var two = Run("two", "2");
        Assert.True(one.ExitCode == 0, one.ToString());
        Assert.True(two.ExitCode == 0, two.ToString());

        var a = ParquetDrawReader.Read(Path.Combine(dir["one"], "draws.parquet"));
        var b = ParquetDrawReader.Read(Path.Combine(dir["two"], "draws.parquet"));
        Assert.Equal(a.ColumnNames, b.ColumnNames);
        Assert.Contains("4.weight[0,9]", a.ColumnNames);
        foreach (var name in a.ColumnNames)
            for (int chain = 0; chain < 2; chain++)
                Assert.Equal(a.Column(name)[chain].Select(BitConverter.DoubleToInt64Bits), b.Column(name)[chain].Select(BitConverter.DoubleToInt64Bits));
        Assert.True(a.Column("4.bias[0]")[0].Distinct().Count() > 30, "the output bias is drawn afresh at every draw");

        // The draws hold every weight, so the ensemble is exported as from any run.
        var export = BnnProcess.Run(["export", dir["one"], "--out", Path.Combine(dir.Path, "ensemble.onnx"), "--members", "20"]);
        Assert.True(export.ExitCode == 0, export.ToString());
        Assert.True(File.Exists(Path.Combine(dir.Path, "ensemble.onnx")));
    }

    /// <summary>Given a model or settings the output layer cannot be integrated under, <c>bnn sample --integrate-output</c> exits 2 with one line saying why.</summary>
    [Theory]
    [InlineData("binary_logit_pytorch.onnx", "binary_data.csv", "normal likelihood only", "--likelihood", "bernoulli")]
    [InlineData("blog_mlp_pytorch.onnx", "blog_data.csv", "torch backend", "--backend", "torch")]
    [InlineData("blog_mlp_pytorch.onnx", "blog_data.csv", "hierarchical prior", "--prior-scale", "hierarchical")]
    [InlineData("step_mlp_op17_folded.onnx", "regression8_data.csv", "the last layer must be affine")]
    public void Models_it_does_not_apply_to_are_refused_with_exit_2(string model, string data, string reason, params string[] extra)
    {
        using var dir = new TempDir("bnn-integrate-refused-");
        string[] columns = data == "blog_data.csv" ? ["--features", "x", "--target", "y"] : [];
        var result = InProcessCli.Run(["sample", Repo.Model(model), "--data", Repo.Model(data), .. columns, "--out", dir["run"],
            "--chains", "1", "--warmup", "10", "--draws", "10", "--no-progress", "--integrate-output", .. extra]);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("--integrate-output", result.Stderr);
        Assert.Contains(reason, result.Stderr);
        Assert.False(File.Exists(Path.Combine(dir["run"], "draws.parquet")));
    }
    /// <summary>
    /// Given the blog's network sampled with a maximum tree depth of 3 (so nearly every transition hits it), when the
    /// output layer is sampled, then <c>bnn sample</c> prints one hint naming <c>--integrate-output</c>; when it is
    /// integrated, or the likelihood is one the integrated layer does not cover (a categorical classifier under the same
    /// depth), no hint is printed.
    /// </summary>
    [Fact]
    public void A_run_that_hits_the_maximum_depth_hints_at_integrating_the_output_layer_when_it_can()
    {
        using var dir = new TempDir("bnn-integrate-hint-");
        CliResult Run(string name, string model, string data, params string[] extra) => BnnProcess.Run(["sample", Repo.Model(model),
            "--data", Repo.Model(data), "--out", dir[name], "--seed", "3", "--chains", "2", "--warmup", "60", "--draws", "40",
            "--max-depth", "3", "--no-progress", .. extra]);
        static string[] Hints(CliResult r) => r.Stdout.ReplaceLineEndings("\n").Split('\n').Where(l => l.StartsWith("hint:", StringComparison.Ordinal)).ToArray();

        var full = Run("full", "blog_mlp_pytorch.onnx", "blog_data.csv", "--features", "x", "--target", "y");
        Assert.True(full.ExitCode == 0, full.ToString());
        var hint = Assert.Single(Hints(full));
        Assert.Contains("--integrate-output", hint);
        Assert.Contains("maximum tree depth", hint);

        var integrated = Run("integrated", "blog_mlp_pytorch.onnx", "blog_data.csv", "--features", "x", "--target", "y", "--integrate-output");
        Assert.True(integrated.ExitCode == 0, integrated.ToString());
        Assert.Empty(Hints(integrated));

        var classifier = Run("classifier", "multiclass_logits_pytorch.onnx", "multiclass_data.csv", "--target", "y", "--likelihood", "categorical");
        Assert.True(classifier.ExitCode == 0, classifier.ToString());
        Assert.Contains("maximum treedepth", classifier.Stdout);
        Assert.Empty(Hints(classifier));
    }
}
