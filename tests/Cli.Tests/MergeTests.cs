using Bnn.Onnx.Export;
using Bnn.Onnx.Tests.TestSupport;

namespace Bnn.Onnx.Tests;

/// <summary><c>bnn sample --chain-ids</c> reproduces chains of a full run, and <c>bnn merge</c> joins the parts back into it.</summary>
public class MergeTests
{
    private static string[] Linreg(string outDir, ulong seed, params string[] extra) => Linreg(outDir, seed, 60, extra);

    private static string[] Linreg(string outDir, ulong seed, int draws, params string[] extra) =>
    [
        "sample", Repo.Model("linreg_pytorch.onnx"), "--data", Repo.Model("blog_data.csv"), "--features", "x", "--target", "y",
        "--out", outDir, "--seed", seed.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "--chains", "4", "--warmup", "100", "--draws", draws.ToString(System.Globalization.CultureInfo.InvariantCulture), "--no-progress", .. extra,
    ];

    private static void Ok(CliResult result) => Assert.True(result.ExitCode == 0, result.ToString());

    [Fact]
    public void Parts_sampled_with_chain_ids_merge_into_the_full_run()
    {
        // Given a 4-chain run and the same run sampled as two parts, one of them listing its chains out of order
        using var dir = new TempDir();
        Ok(BnnProcess.Run(Linreg(dir["full"], 11)));
        Ok(BnnProcess.Run(Linreg(dir["a"], 11, "--chain-ids", "3,0")));
        Ok(BnnProcess.Run(Linreg(dir["b"], 11, "--chain-ids", "2")));
        Ok(BnnProcess.Run(Linreg(dir["c"], 11, "--chain-ids", "1")));

        // Then each part's chains are the full run's, bit for bit
        var full = ParquetDrawReader.Read(Path.Combine(dir["full"], "draws.parquet"));
        var a = ParquetDrawReader.Read(Path.Combine(dir["a"], "draws.parquet"));
        Assert.Equal(2, a.Chains);
        foreach (var name in full.ColumnNames)
        {
            Assert.Equal(full.Column(name)[3], a.Column(name)[0]);
            Assert.Equal(full.Column(name)[0], a.Column(name)[1]);
        }
        using (var record = Runs.ReadRunJson(dir["a"]))
        {
            Assert.Equal([3, 0], record.RootElement.GetProperty("chain_ids").EnumerateArray().Select(e => e.GetInt32()));
            Assert.Equal(4, record.RootElement.GetProperty("settings").GetProperty("chains").GetInt32());
        }

        // When they are merged
        var merge = BnnProcess.Run("merge", dir["c"], dir["a"], dir["b"], "--out", dir["merged"]);
        Ok(merge);

        // Then the summary and the predictive draws are byte-identical to the single run's, and so are the draws
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir["full"], "summary.csv")), File.ReadAllBytes(Path.Combine(dir["merged"], "summary.csv")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir["full"], "predictive.csv")), File.ReadAllBytes(Path.Combine(dir["merged"], "predictive.csv")));
        var merged = ParquetDrawReader.Read(Path.Combine(dir["merged"], "draws.parquet"));
        Assert.Equal(full.ColumnNames, merged.ColumnNames);
        Assert.Equal(full.DrawCounts, merged.DrawCounts);
        foreach (var name in full.ColumnNames)
            for (int chain = 0; chain < 4; chain++)
                Assert.Equal(full.Column(name)[chain], merged.Column(name)[chain]);
        using var mergedRecord = Runs.ReadRunJson(dir["merged"]);
        Assert.False(mergedRecord.RootElement.TryGetProperty("chain_ids", out _));
        Assert.Equal([0, 1, 2, 3], mergedRecord.RootElement.GetProperty("chains").EnumerateArray().Select(c => c.GetProperty("chain").GetInt32()));

        // And the merged run exports like any other
        Ok(BnnProcess.Run("export", dir["merged"], "--members", "8"));
    }

    [Fact]
    public void Merge_refuses_parts_of_different_posteriors_or_the_same_chain_twice()
    {
        using var dir = new TempDir();
        Ok(BnnProcess.Run(Linreg(dir["a"], 5, 20, "--chain-ids", "0,1")));
        Ok(BnnProcess.Run(Linreg(dir["b"], 6, 20, "--chain-ids", "2,3")));
        Ok(BnnProcess.Run(Linreg(dir["c"], 5, 20, "--chain-ids", "1,2")));

        foreach (var (parts, expected) in new[] { ((string[])["a", "b"], "seed"), (["a", "c"], "chain 1") })
        {
            var result = BnnProcess.Run(["merge", .. parts.Select(p => dir[p]), "--out", dir["m"]]);
            Assert.Equal(2, result.ExitCode);
            var line = Assert.Single(result.ErrorLines);
            Assert.Contains(expected, line);
            Assert.False(File.Exists(Path.Combine(dir["m"], "summary.csv")));
        }
    }

    [Fact]
    public void Chain_ids_outside_the_run_are_refused()
    {
        using var dir = new TempDir();
        foreach (var ids in new[] { "4", "1,1", "1,x" })
        {
            var result = BnnProcess.Run(Linreg(dir["r"], 1, "--chain-ids", ids));
            Assert.Equal(2, result.ExitCode);
            Assert.Contains("--chain-ids", Assert.Single(result.ErrorLines));
        }
    }
}
