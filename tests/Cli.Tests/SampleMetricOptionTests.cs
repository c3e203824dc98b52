using Bnn.Onnx.Tests.TestSupport;

namespace Bnn.Onnx.Tests;

/// <summary><c>bnn sample --metric low-rank</c> end to end: it samples, and <c>run.json</c> says which metric it used.</summary>
public class SampleMetricOptionTests
{
    [Fact]
    public void Low_rank_metric_run_records_its_metric_and_recovers_the_linear_regression()
    {
        using var dir = new TempDir("bnn-e2e-lowrank-");
        var result = Runs.SampleLinreg(dir["run"], seed: 3, "--metric", "low-rank");
        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = Runs.ReadRunJson(dir["run"]);
        var settings = json.RootElement.GetProperty("settings");
        Assert.Equal("low-rank", settings.GetProperty("metric").GetString());
        foreach (var chain in json.RootElement.GetProperty("chains").EnumerateArray())
            Assert.All(chain.GetProperty("inverse_metric").EnumerateArray(), m => Assert.True(m.GetDouble() > 0));
        var summary = CsvTable.Read(Path.Combine(dir["run"], "summary.csv"));
        Assert.InRange(summary.Value("weight[0,0]", "mean"), 1.24 - 0.05, 1.24 + 0.05);
    }
}
