using System.Globalization;
using Bnn.Onnx.Cli;
using Bnn.Onnx.Cli.Reporting;
using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Tests;

/// <summary>Reading draws from CSV, the summary's output formats, the report with its warnings and the function-space verdict.</summary>
public class ReportTests
{
    private static string CmdStanCsv(string dir, int chain, Rng rng, int warmup, int draws, bool divergentFirst)
    {
        var path = Path.Combine(dir, $"output_{chain}.csv");
        using var w = new StreamWriter(path);
        w.WriteLine("# stan_version_major = 2");
        w.WriteLine("# model = linreg_model");
        w.WriteLine("#     max_depth = 8 (Default)");
        w.WriteLine("lp__,accept_stat__,stepsize__,treedepth__,n_leapfrog__,divergent__,energy__,alpha,beta[1]");
        for (int i = 0; i < warmup; i++) w.WriteLine("-99,0.9,0.5,2,3,0,100,1000,1000"); // saved warmup: must be skipped
        w.WriteLine("# Adaptation terminated");
        w.WriteLine("# Step size = 0.5");
        w.WriteLine("# Diagonal elements of inverse mass matrix:");
        w.WriteLine("# 1, 1");
        for (int i = 0; i < draws; i++)
        {
            double a = rng.NextNormal(), b = 2 + rng.NextNormal();
            string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
            w.WriteLine($"{F(-0.5 * a * a)},0.85,0.5,{(i == 0 ? 8 : 3)},7,{(divergentFirst && i == 0 ? 1 : 0)},{F(rng.NextNormal() + 3)},{F(a)},{F(b)}");
        }
        w.WriteLine("# Elapsed Time: 0.01 seconds (Warm-up)");
        return path;
    }

    [Fact]
    public void CmdStan_csv_files_are_read_as_chains_after_adaptation()
    {
        var dir = Directory.CreateTempSubdirectory("nuts-cmdstan").FullName;
        try
        {
            var rng = new Rng(4);
            var files = Enumerable.Range(1, 4).Select(c => CmdStanCsv(dir, c, rng, warmup: 20, draws: 500, divergentFirst: c == 2)).ToArray();
            var table = DrawCsvReader.Read(files);
            Assert.Equal(4, table.Chains);
            Assert.Equal(500, table.DrawsPerChain);
            Assert.Contains("beta[1]", table.Variables);
            Assert.DoesNotContain(table.Column("alpha").SelectMany(c => c), v => v == 1000);
            Assert.Equal(8, DrawCsvReader.CmdStanMaxDepth(files[0]));

            var report = DrawsReport.Build(table, maxTreeDepth: 8);
            Assert.Equal(["alpha", "beta[1]", "lp__"], report.Rows.Select(r => r.Variable).Order().ToArray());
            Assert.Equal(2.0, report.Rows.Single(r => r.Variable == "beta[1]").Mean, 0.1);
            Assert.Contains(report.SamplerWarnings, w => w.StartsWith("There was 1 divergent transition after warmup."));
            Assert.Contains(report.SamplerWarnings, w => w.StartsWith("There were 4 transitions after warmup that exceeded the maximum treedepth. Increase max_treedepth above 8."));
            Assert.DoesNotContain(report.SamplerWarnings, w => w.Contains("Bayesian Fraction")); // iid energies: E-BFMI ≈ 2
            Assert.Null(report.Verdict);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Bad_csv_input_names_row_and_column()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(path, ["chain,iteration,a", "1,1,0.5", "1,2,x1"]);
            var ex = Assert.Throws<InvalidDataException>(() => DrawCsvReader.Read([path]));
            Assert.Contains("row 3, column 'a'", ex.Message);
            File.WriteAllLines(path, ["chain,iteration,a", "1,1,0.5", "2,1"]);
            ex = Assert.Throws<InvalidDataException>(() => DrawCsvReader.Read([path]));
            Assert.Contains("row 3 has 2 fields", ex.Message);
            File.WriteAllLines(path, ["chain,iteration,a", "1,1,0.5", "1,2,0.7", "2,1,0.1"]);
            ex = Assert.Throws<InvalidDataException>(() => DrawCsvReader.Read([path]));
            Assert.Contains("chain 2 has 1 draws", ex.Message);
            File.WriteAllLines(path, ["x,y", "1,2"]);
            ex = Assert.Throws<InvalidDataException>(() => DrawCsvReader.Read([path]));
            Assert.Contains("no 'chain' column", ex.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Long_csv_is_ordered_by_iteration_within_chain()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(path, [".chain,.iteration,.draw,a", "2,2,4,20", "1,2,2,2", "1,1,1,1", "2,1,3,10"]);
            var table = DrawCsvReader.Read([path]);
            Assert.Equal(["a"], table.Variables);
            Assert.Equal([1.0, 2.0], table.Column("a")[0]);
            Assert.Equal([10.0, 20.0], table.Column("a")[1]);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static SummaryRow Row(string name, double rhat, double essBulk, double essTail) =>
        new(name, 0, 1, 0, -1.6, 1.6, 0.01, 0.01, essBulk, essTail, rhat);

    [Fact]
    public void Function_space_verdict_ignores_weights_and_names_the_reason()
    {
        var lp = Row("lp__", 1.002, 1500, 1800);
        var good = FunctionSpaceVerdict.Evaluate(lp, [Row("mu[0]", 1.003, 2347, 2500), Row("mu[1]", 1.001, 3000, 2900)], chains: 4);
        Assert.True(good.Converged, good.Reason);
        Assert.Equal(1.003, good.WorstRhat);
        Assert.Equal(1500, good.WorstEssBulk);

        var badRhat = FunctionSpaceVerdict.Evaluate(lp, [Row("mu[0]", 1.05, 2347, 2500)], chains: 4);
        Assert.False(badRhat.Converged);
        Assert.Contains("R-hat 1.05 of mu[0]", badRhat.Reason);

        var lowEss = FunctionSpaceVerdict.Evaluate(Row("lp__", 1.0, 350, 900), [Row("mu[0]", 1.0, 2347, 2500)], chains: 4);
        Assert.False(lowEss.Converged);
        Assert.Contains("bulk-ESS 350 of lp__ is below 400", lowEss.Reason);
    }

    [Fact]
    public void Report_verdict_uses_lp_and_predictive_rows_only()
    {
        // A "weight" that flips sign between chains (non-identifiable), a predictive that does not care.
        var rng = new Rng(31);
        int chains = 4, draws = 1000;
        var w = new double[chains][];
        var mu = new double[chains][];
        var lp = new double[chains][];
        for (int c = 0; c < chains; c++)
        {
            double sign = c % 2 == 0 ? 1 : -1;
            w[c] = new double[draws]; mu[c] = new double[draws]; lp[c] = new double[draws];
            for (int i = 0; i < draws; i++)
            {
                double z = rng.NextNormal();
                w[c][i] = sign * (3 + 0.1 * z);
                mu[c][i] = 0.5 + 0.1 * rng.NextNormal();
                lp[c][i] = -0.5 * z * z;
            }
        }
        var table = new InMemoryDrawTable(["0.weight[0,0]", "lp__", "mu[0]"], [w, lp, mu]);
        var report = DrawsReport.Build(table, isPredictive: n => n.StartsWith("mu[", StringComparison.Ordinal));
        Assert.True(report.Rows.Single(r => r.Variable == "0.weight[0,0]").Rhat > 1.5);
        Assert.NotNull(report.Verdict);
        Assert.True(report.Verdict!.Converged, report.Verdict.Reason);
        Assert.Empty(report.ConvergenceWarnings);
    }

    [Fact]
    public void Summary_csv_has_the_documented_columns()
    {
        var rows = new[] { new SummaryRow("0.weight[3,0]", 1.5, 0.25, 1.5, 1.1, 1.9, 0.01, 0.005, 1234.5, 2345.5, 1.001) };
        using var sw = new StringWriter();
        SummaryWriter.WriteCsv(sw, rows);
        var lines = sw.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("variable,mean,sd,median,q5,q95,mcse_mean,mcse_sd,ess_bulk,ess_tail,rhat", lines[0].TrimEnd('\r'));
        Assert.Equal("\"0.weight[3,0]\",1.5,0.25,1.5,1.1,1.9,0.01,0.005,1234.5,2345.5,1.001", lines[1].TrimEnd('\r'));
    }

    [Fact]
    public void Sampling_failure_message_gives_the_counts_the_step_sizes_and_what_to_try()
    {
        var message = SamplingFailureMessage.Describe(new SamplingFailure(1949, 2000, PostWarmup: true, [1e-9, 2.5e-9]));
        Assert.StartsWith("sampling failed: 1,949 of 2,000 post-warmup transitions diverged (adapted step sizes 1E-09, 2.5E-09)", message);
        Assert.Contains("--init onnx", message);
        Assert.DoesNotContain('\n', message);
        Assert.Contains(" 195 of 200 warmup transitions", SamplingFailureMessage.Describe(new SamplingFailure(195, 200, PostWarmup: false, [1.0])));
    }
}
