using System.Security.Cryptography;
using Bnn.Onnx.Export;
using Bnn.Onnx.Tests.TestSupport;

namespace Bnn.Onnx.Tests;

/// <summary>
/// One short <c>bnn sample</c> run on the blog's linear regression (seed 1), made once per test run and shared by
/// every test that only reads it; tests that change a run directory copy it first (<see cref="CopyTo"/>).
/// </summary>
public sealed class LinregSampleFixture
{
    private static readonly Lazy<LinregSampleFixture> Shared = new(() => new LinregSampleFixture());
    private static readonly TempDir Dir = new("bnn-e2e-linreg-");

    static LinregSampleFixture() => AppDomain.CurrentDomain.ProcessExit += (_, _) => Dir.Dispose();

    private LinregSampleFixture()
    {
        RunDir = Dir["run"];
        Result = Runs.SampleLinreg(RunDir, seed: 1);
    }

    public static LinregSampleFixture Instance => Shared.Value;

    public string RunDir { get; }
    public CliResult Result { get; }

    /// <summary>A copy of the completed run directory at <paramref name="target"/>.</summary>
    public string CopyTo(string target)
    {
        Assert.True(Result.ExitCode == 0, Result.ToString());
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(RunDir)) File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        return target;
    }
}

/// <summary>
/// <c>bnn sample</c> end to end as a user runs it (a child process): exit code, <c>draws.parquet</c>,
/// <c>summary.csv</c> and <c>run.json</c>, each checked against the others and against the data.
/// </summary>
public class SampleEndToEndTests
{
    private readonly LinregSampleFixture run = LinregSampleFixture.Instance;

    private const int Chains = 2;
    private const int Draws = 100;

    [Fact]
    public void Exits_0_with_the_summary_table_on_stdout_and_nothing_alarming_on_stderr()
    {
        Assert.True(run.Result.ExitCode == 0, run.Result.ToString());
        Assert.False(run.Result.HasStackTrace, run.Result.ToString());
        Assert.DoesNotContain("error", run.Result.Stderr, StringComparison.OrdinalIgnoreCase);
        foreach (var name in new[] { "weight[0,0]", "bias[0]", "sigma", "lp__", "ess_bulk", "rhat" })
            Assert.Contains(name, run.Result.Stdout);
        Assert.Contains("posterior predictive mean at 100 inputs", run.Result.Stdout);
        Assert.Equal(["draws.parquet", "predictive.csv", "run.json", "summary.csv"],
            Directory.GetFileSystemEntries(run.RunDir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Draws_parquet_holds_every_draw_of_every_chain_with_Stan_columns()
    {
        var draws = ParquetDrawReader.Read(Path.Combine(run.RunDir, "draws.parquet"));

        Assert.Equal(Chains, draws.Chains);
        Assert.Equal([Draws, Draws], draws.DrawCounts);
        Assert.False(draws.Interrupted);
        Assert.Equal(
            ["lp__", "accept_stat__", "stepsize__", "treedepth__", "n_leapfrog__", "divergent__", "energy__", "weight[0,0]", "bias[0]", "sigma"],
            draws.ColumnNames);
        Assert.NotNull(draws.RunJson);

        for (int c = 0; c < Chains; c++)
        {
            Assert.All(draws.Column("sigma")[c], s => Assert.True(s > 0 && double.IsFinite(s)));
            Assert.All(draws.Column("lp__")[c], v => Assert.True(double.IsFinite(v)));
            Assert.All(draws.Column("accept_stat__")[c], a => Assert.InRange(a, 0.0, 1.0));
            Assert.All(draws.Column("treedepth__")[c], d => Assert.InRange(d, 0.0, 10.0));
            // After warmup the step size is fixed per chain.
            Assert.Single(draws.Column("stepsize__")[c].Distinct());
        }
        // Chains are different Markov chains, not copies.
        Assert.NotEqual(draws.Column("weight[0,0]")[0], draws.Column("weight[0,0]")[1]);
    }

    [Fact]
    public void Summary_csv_has_Stan_columns_every_parameter_then_lp_then_the_predictive_mean()
    {
        string[] lines = File.ReadAllLines(Path.Combine(run.RunDir, "summary.csv"));
        Assert.Equal("variable,mean,sd,median,q5,q95,mcse_mean,mcse_sd,ess_bulk,ess_tail,rhat", lines[0]);

        var summary = CsvTable.Read(Path.Combine(run.RunDir, "summary.csv"));
        var (x, _) = Runs.BlogData();
        Assert.Equal(["weight[0,0]", "bias[0]", "sigma", "lp__", .. Enumerable.Range(0, x.Length).Select(i => $"mu[{i}]")], summary.Keys);
        foreach (var row in summary.Rows)
            Assert.All(row.Skip(1), cell => Assert.True(double.IsFinite(double.Parse(cell, System.Globalization.CultureInfo.InvariantCulture)), $"{row[0]}: {cell}"));

        // The summary is computed from the draws in the file.
        var draws = ParquetDrawReader.Read(Path.Combine(run.RunDir, "draws.parquet"));
        foreach (var name in new[] { "weight[0,0]", "bias[0]", "sigma", "lp__" })
        {
            var all = draws.Column(name).SelectMany(c => c).ToArray();
            Assert.Equal(all.Average(), summary.Value(name, "mean"), 1e-12);
            Assert.True(all.Min() <= summary.Value(name, "q5") && summary.Value(name, "q95") <= all.Max(), name);
        }

        // mu[i] is the posterior mean of the network's output at data row i: the mean over draws of w·x_i + b.
        var w = draws.Column("weight[0,0]").SelectMany(c => c).ToArray();
        var b = draws.Column("bias[0]").SelectMany(c => c).ToArray();
        foreach (int i in new[] { 0, 37, x.Length - 1 })
        {
            double expected = w.Zip(b, (wi, bi) => wi * x[i] + bi).Average();
            Assert.Equal(expected, summary.Value($"mu[{i}]", "mean"), 1e-6);
        }

        // The blog's posterior (alpha 0.29 (0.03), beta 1.24 (0.06), sigma 0.34 (0.02)), with room for 200 draws.
        Assert.InRange(summary.Value("weight[0,0]", "mean"), 1.24 - 0.05, 1.24 + 0.05);
        Assert.InRange(summary.Value("bias[0]", "mean"), 0.29 - 0.03, 0.29 + 0.03);
        Assert.InRange(summary.Value("sigma", "mean"), 0.34 - 0.02, 0.34 + 0.02);
        Assert.InRange(summary.Value("weight[0,0]", "sd"), 0.03, 0.09);
    }

    [Fact]
    public void Run_json_records_status_seed_model_hash_work_timing_and_each_chains_adaptation()
    {
        using var json = Runs.ReadRunJson(run.RunDir);
        var root = json.RootElement;

        Assert.Equal("completed", root.GetProperty("status").GetString());
        Assert.Equal(1UL, root.GetProperty("seed").GetUInt64());
        Assert.Equal(Sha256(Repo.Model("linreg_pytorch.onnx")), root.GetProperty("model_sha256").GetString());
        Assert.Equal(Sha256(Repo.Model("blog_data.csv")), root.GetProperty("data_sha256").GetString());
        Assert.Equal(Path.GetFullPath(Repo.Model("linreg_pytorch.onnx")), root.GetProperty("model").GetString());
        Assert.Equal(["x"], root.GetProperty("features").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("y", root.GetProperty("target").GetString());
        Assert.Equal("cpu", root.GetProperty("backend").GetString());
        Assert.Contains("--seed 1", root.GetProperty("command_line").GetString());
        var settings = root.GetProperty("settings");
        Assert.Equal(Chains, settings.GetProperty("chains").GetInt32());
        Assert.Equal(150, settings.GetProperty("warmup").GetInt32());
        Assert.Equal(Draws, settings.GetProperty("draws").GetInt32());

        // Every sampling gradient is a leapfrog step the draws file records.
        var draws = ParquetDrawReader.Read(Path.Combine(run.RunDir, "draws.parquet"));
        var gradients = root.GetProperty("gradient_evaluations");
        long warmup = gradients.GetProperty("warmup").GetInt64(), sampling = gradients.GetProperty("sampling").GetInt64();
        Assert.True(warmup > 0);
        Assert.Equal((long)draws.Column("n_leapfrog__").SelectMany(c => c).Sum(), sampling);
        Assert.Equal(warmup + sampling, gradients.GetProperty("total").GetInt64());

        var timing = root.GetProperty("timing");
        double warmupSeconds = timing.GetProperty("warmup_seconds").GetDouble();
        double samplingSeconds = timing.GetProperty("sampling_seconds").GetDouble();
        Assert.True(warmupSeconds > 0 && samplingSeconds > 0);
        Assert.True(timing.GetProperty("total_seconds").GetDouble() >= Math.Max(warmupSeconds, samplingSeconds));

        var chains = root.GetProperty("chains").EnumerateArray().ToList();
        Assert.Equal(Chains, chains.Count);
        for (int c = 0; c < Chains; c++)
        {
            Assert.Equal(c, chains[c].GetProperty("chain").GetInt32());
            Assert.Equal(Draws, chains[c].GetProperty("draws").GetInt32());
            Assert.Equal(draws.Column("stepsize__")[c][0], chains[c].GetProperty("step_size").GetDouble());
            var metric = chains[c].GetProperty("inverse_metric").EnumerateArray().Select(e => e.GetDouble()).ToList();
            Assert.Equal(3, metric.Count); // weight, bias, log sigma
            Assert.All(metric, m => Assert.True(m > 0 && double.IsFinite(m)));
        }
    }

    [Fact]
    public void Run_json_and_the_draws_metadata_are_one_record_read_by_one_parser()
    {
        string text = File.ReadAllText(Path.Combine(run.RunDir, RunRecord.FileName));
        var final = RunRecord.Parse(text, "run.json");
        var started = RunRecord.Parse(ParquetDrawReader.Read(Path.Combine(run.RunDir, "draws.parquet")).RunJson!, "bnn.run");

        Assert.Equal(text, final.ToJson() + "\n");
        Assert.Equal(RunStatus.Completed, final.Status);
        Assert.Equal(RunStatus.Running, started.Status);
        Assert.Equal(EnsembleLikelihood.Normal, final.Settings.Likelihood);
        Assert.Null(final.Settings.FixedSigma);
        Assert.Equal(10, final.Settings.MaxDepth);
        Assert.Null(started.Chains);
        // The record the draws carry is the final one without results.
        var withoutResults = final with
        {
            Status = RunStatus.Running, GradientEvaluations = null, Timing = null, Divergences = null, TreedepthSaturations = null,
            Chains = null, SummaryThinning = null,
        };
        Assert.Equal(withoutResults.ToJson(), started.ToJson());
    }

    private static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
}
