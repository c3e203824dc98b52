using System.Text.Json;
using Bnn.Onnx.Export;
using Bnn.Onnx.Tests.TestSupport;

namespace Bnn.Onnx.Tests;

/// <summary>
/// Ctrl-C (SIGINT), SIGTERM and kill -9 during <c>bnn sample</c> on the blog's network (slow enough to interrupt):
/// exit code 130, a readable <c>draws.parquet</c> with every completed draw, a complete <c>summary.csv</c> and a
/// <c>run.json</c> that says <c>interrupted</c>; earlier complete outputs are only ever replaced by complete ones.
/// </summary>
public class RobustnessInterruptionTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromMinutes(1);

    /// <summary>Draws per chain asked for: far more than a chain completes in the seconds before the signal (after 30
    /// warmup iterations one chain can adapt to short trajectories and run thousands of draws a second).</summary>
    private const int Draws = 50_000;

    /// <summary>The blog MLP from its trained weights: most iterations take hundreds of leapfrog steps.</summary>
    private static string[] MlpArgs(string outDir, int warmup) =>
    [
        "sample", Repo.Model("blog_mlp_pytorch.onnx"), "--data", Repo.Model("blog_data.csv"), "--features", "x", "--target", "y",
        "--out", outDir, "--seed", "7", "--chains", "2", "--warmup", warmup.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "--draws", Draws.ToString(System.Globalization.CultureInfo.InvariantCulture), "--init", "onnx", "--no-progress",
    ];

    [Fact]
    public void Ctrl_C_during_sampling_saves_every_completed_draw_and_exits_130()
    {
        const int signal = BnnProcess.SigInt;
        using var dir = new TempDir();
        string runDir = dir["run"];
        using var bnn = BnnProcess.Start(null, MlpArgs(runDir, warmup: 30));
        Assert.True(bnn.WaitForStderr(l => l.Contains("(sampling)"), StartTimeout), $"sampling never started:\n{bnn.Stderr}");
        Thread.Sleep(1000);
        bnn.Signal(signal);
        var result = bnn.WaitForExit(StopTimeout);

        Assert.True(result.ExitCode == 130, result.ToString());
        Assert.False(result.HasStackTrace, result.ToString());
        Assert.Contains("interrupt:", result.Stderr);
        var draws = AssertCompleteInterruptedRun(runDir, "blog_mlp_pytorch.onnx", expectSomeDraws: false);

        // The interrupted run exports: members come from the draws that were completed, and the ensemble says so.
        string ensemble = dir["ensemble.onnx"];
        var export = BnnProcess.Run("export", runDir, "--members", "10", "--out", ensemble);
        if (draws.TotalDraws == 0)
        {
            Assert.True(export.ExitCode == 2, export.ToString());
            Assert.False(export.HasStackTrace, export.ToString());
            return;
        }
        Assert.True(export.ExitCode == 0, export.ToString());
        var meta = Bnn.Onnx.Export.ModelFiles.Read(ensemble).MetadataProps.ToDictionary(e => e.Key, e => e.Value);
        Assert.Equal("interrupted", meta["bnn.draws_status"]);
        Assert.Equal(draws.TotalDraws.ToString(System.Globalization.CultureInfo.InvariantCulture), meta["bnn.total_draws"]);
        Assert.Equal(Math.Min(10, draws.TotalDraws).ToString(System.Globalization.CultureInfo.InvariantCulture), meta["bnn.members"]);
    }

    [Fact]
    public void Interrupt_during_warmup_leaves_a_valid_run_with_no_draws()
    {
        using var dir = new TempDir();
        string runDir = dir["run"];
        using var bnn = BnnProcess.Start(null, MlpArgs(runDir, warmup: 1000));
        Assert.True(bnn.WaitForStderr(l => l.Contains("(warmup)"), StartTimeout), $"warmup never started:\n{bnn.Stderr}");
        bnn.Signal(BnnProcess.SigInt);
        var result = bnn.WaitForExit(StopTimeout);

        Assert.True(result.ExitCode == 130, result.ToString());
        Assert.False(result.HasStackTrace, result.ToString());
        var draws = AssertCompleteInterruptedRun(runDir, "blog_mlp_pytorch.onnx", expectSomeDraws: false);
        Assert.Equal(0, draws.TotalDraws);
    }

    [Fact]
    public void SIGTERM_replaces_an_earlier_complete_run_only_with_complete_files()
    {
        using var dir = new TempDir();
        string runDir = dir["run"];
        LinregSampleFixture.Instance.CopyTo(runDir);

        using var bnn = BnnProcess.Start(null, MlpArgs(runDir, warmup: 30));
        Assert.True(bnn.WaitForStderr(l => l.Contains("(sampling)"), StartTimeout), $"sampling never started:\n{bnn.Stderr}");
        Thread.Sleep(2000);
        bnn.Signal(BnnProcess.SigTerm);
        var result = bnn.WaitForExit(StopTimeout);

        Assert.True(result.ExitCode == 130, result.ToString());
        Assert.False(result.HasStackTrace, result.ToString());
        Assert.Contains("SIGTERM:", result.Stderr);
        // All three files now describe the interrupted network run, each complete.
        AssertCompleteInterruptedRun(runDir, "blog_mlp_pytorch.onnx", expectSomeDraws: false);
    }

    [Fact]
    public void Kill_9_during_sampling_leaves_the_earlier_complete_run_untouched()
    {
        using var dir = new TempDir();
        string runDir = dir["run"];
        LinregSampleFixture.Instance.CopyTo(runDir);
        var before = Snapshot(runDir);

        using var bnn = BnnProcess.Start(null, MlpArgs(runDir, warmup: 1000));
        Assert.True(bnn.WaitForStderr(l => l.Contains("(warmup)"), StartTimeout), $"warmup never started:\n{bnn.Stderr}");
        Thread.Sleep(500);
        bnn.Signal(BnnProcess.SigKill);
        bnn.WaitForExit(StopTimeout);

        var after = Snapshot(runDir);
        foreach (var (name, bytes) in before) Assert.True(bytes.SequenceEqual(after[name]), $"{name} changed");
        using var json = Runs.ReadRunJson(runDir);
        Assert.Equal("completed", json.RootElement.GetProperty("status").GetString());
        Assert.EndsWith("linreg_pytorch.onnx", json.RootElement.GetProperty("model").GetString());

        // The killed run's temporaries are removed by the next run in the directory.
        Assert.Contains(Directory.GetFiles(runDir), f => Path.GetFileName(f).StartsWith(".draws.parquet.", StringComparison.Ordinal));
        var next = Runs.SampleLinreg(runDir, seed: 2);
        Assert.True(next.ExitCode == 0, next.ToString());
        Assert.Equal(["draws.parquet", "predictive.csv", "run.json", "summary.csv"],
            Directory.GetFileSystemEntries(runDir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// Checks the three outputs of an interrupted run against each other: run.json's per-chain draw counts, the
    /// Parquet rows per chain, and a summary row for every parameter, lp__ and the predictive mean.
    /// </summary>
    private DrawsTable AssertCompleteInterruptedRun(string runDir, string model, bool expectSomeDraws)
    {
        Assert.Equal(["draws.parquet", "predictive.csv", "run.json", "summary.csv"],
            Directory.GetFileSystemEntries(runDir).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        using var json = Runs.ReadRunJson(runDir);
        var root = json.RootElement;
        Assert.Equal("interrupted", root.GetProperty("status").GetString());
        Assert.EndsWith(model, root.GetProperty("model").GetString());
        var chainDraws = root.GetProperty("chains").EnumerateArray().Select(c => c.GetProperty("draws").GetInt32()).ToArray();
        Assert.Equal(2, chainDraws.Length);

        var draws = ParquetDrawReader.Read(Path.Combine(runDir, "draws.parquet"));
        output.WriteLine($"draws per chain when stopped: {string.Join(", ", draws.DrawCounts)}");
        Assert.True(draws.Interrupted);
        Assert.Equal(2, draws.Chains);
        Assert.Equal(chainDraws, draws.DrawCounts);
        // Interrupted: every chain has at most the draws asked for, and at least one stopped short of them.
        Assert.All(draws.DrawCounts, n => Assert.InRange(n, 0, Draws));
        Assert.Contains(draws.DrawCounts, n => n < Draws);
        if (expectSomeDraws) Assert.True(draws.TotalDraws > 0);
        for (int c = 0; c < draws.Chains; c++)
            for (int d = 0; d < draws.DrawCounts[c]; d++)
                Assert.True(double.IsFinite(draws.Column("lp__")[c][d]), $"chain {c} draw {d}: lp__ not finite");

        string[] lines = File.ReadAllLines(Path.Combine(runDir, "summary.csv"));
        Assert.Equal("variable,mean,sd,median,q5,q95,mcse_mean,mcse_sd,ess_bulk,ess_tail,rhat", lines[0]);
        var summary = CsvTable.Read(Path.Combine(runDir, "summary.csv"));
        var parameters = draws.ColumnNames.Skip(7).ToList();
        Assert.Equal(82, parameters.Count); // 81 weights and sigma
        Assert.Equal([.. parameters, "lp__", .. Enumerable.Range(0, 100).Select(i => $"mu[{i}]")], summary.Keys);
        if (draws.DrawCounts.Min() >= 4)
            Assert.Equal(draws.Column("lp__").Select(c => c[..draws.DrawCounts.Min()]).SelectMany(c => c).Average(), summary.Value("lp__", "mean"), 1e-9);
        return draws;
    }

    private static Dictionary<string, byte[]> Snapshot(string runDir) =>
        new[] { "draws.parquet", "summary.csv", "run.json" }.ToDictionary(n => n, n => File.ReadAllBytes(Path.Combine(runDir, n)));
}
