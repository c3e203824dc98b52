using System.Globalization;
using System.Text.RegularExpressions;
using Bnn.Onnx.Export;
using Bnn.Onnx.Tests.TestSupport;
using Microsoft.ML.OnnxRuntime;

namespace Bnn.Onnx.Tests;

/// <summary>
/// <c>--prior-scale fan-in</c> and <c>hierarchical</c> from the command line: the hierarchical run reports each weight
/// tensor's scale, its draws hold the network's weights (what the ensemble and the predictive mean both use), and bad
/// values are refused with exit 2 and one line.
/// </summary>
public class PriorScaleWorkflowTests
{
    private static string[] BlogMlp(string outDir, params string[] extra) =>
    [
        "sample", Repo.Model("blog_mlp_pytorch.onnx"), "--data", Repo.Model("blog_data.csv"), "--features", "x", "--target", "y",
        "--out", outDir, "--seed", "3", .. Runs.Short, .. extra,
    ];

    [Fact]
    public void Hierarchical_run_writes_scale_columns_and_exports_an_ensemble_of_the_weights()
    {
        using var dir = new TempDir();
        string runDir = dir["run"];
        var result = BnnProcess.Run(BlogMlp(runDir, "--prior-scale", "hierarchical", "--init", "onnx"));
        Assert.True(result.ExitCode == 0, result.ToString());
        string[] scales = ["scale[0.weight]", "scale[2.weight]", "scale[4.weight]"];
        foreach (var name in scales) Assert.Contains(name, result.Stdout);

        var draws = ParquetDrawReader.Read(Path.Combine(runDir, "draws.parquet"));
        Assert.Equal(scales, draws.ColumnNames.Where(c => c.StartsWith("scale[", StringComparison.Ordinal)));
        Assert.Contains("0.weight[0,0]", draws.ColumnNames);
        foreach (var name in scales)
            Assert.All(draws.Column(name).SelectMany(c => c), s => Assert.True(s > 0 && double.IsFinite(s), $"{name} = {s}"));
        var summary = CsvTable.Read(Path.Combine(runDir, "summary.csv"));
        foreach (var name in scales) Assert.Contains(name, summary.Keys);

        // The run record says which prior each parameter got: 2.weight is [10,5], fan-in 5.
        var record = RunRecord.Parse(File.ReadAllText(Path.Combine(runDir, "run.json")), "run.json");
        Assert.Equal("hierarchical", record.Settings.PriorScaling);
        Assert.Equal(1.0, record.Settings.PriorScale);
        Assert.Equal("normal(0,s), s ~ lognormal(log(0.447214),1)", record.Settings.ParameterPriors!["2.weight"]);
        Assert.Equal("normal(0,1)", record.Settings.ParameterPriors["2.bias"]);

        // Every draw a member: the ensemble's mean prediction at a data row is the mean over draws of the predictive
        // mean mu[row] the sampler computed from the same position. The draws (and so the ensemble) hold w = s·z.
        string ensemble = dir["ensemble.onnx"];
        var export = BnnProcess.Run("export", runDir, "--members", "200", "--out", ensemble);
        Assert.True(export.ExitCode == 0, export.ToString());
        using (var session = new InferenceSession(ensemble))
            Assert.DoesNotContain(session.OutputMetadata.Keys, k => k.Contains("scale", StringComparison.Ordinal));

        var predictive = CsvTable.Read(Path.Combine(runDir, "predictive.csv"));
        var (x, _) = Runs.BlogData();
        var rows = predictive.Header.Where(h => h.StartsWith("mu[", StringComparison.Ordinal)).Take(5)
            .Select(h => (Name: h, Row: int.Parse(Regex.Match(h, @"\d+").Value, CultureInfo.InvariantCulture))).ToArray();
        string input = dir.Write("x.csv", string.Join('\n', rows.Select(r => x[r.Row].ToString("R", CultureInfo.InvariantCulture))) + "\n");
        var predict = BnnProcess.Run("predict", ensemble, "--input", input, "--out", dir["p.csv"]);
        Assert.True(predict.ExitCode == 0, predict.ToString());
        var mean = CsvTable.Read(dir["p.csv"]).Column("mean_0");
        for (int i = 0; i < rows.Length; i++)
        {
            double expected = predictive.Column(rows[i].Name).Average();
            Assert.True(Math.Abs(mean[i] - expected) <= 1e-4 * Math.Max(1, Math.Abs(expected)),
                $"{rows[i].Name}: ensemble mean {mean[i]:R}, mean of the sampler's predictive {expected:R}");
        }
    }

    [Fact]
    public void Fan_in_run_completes_without_scale_columns()
    {
        using var dir = new TempDir();
        string runDir = dir["run"];
        var result = InProcessCli.Run(BlogMlp(runDir, "--prior-scale", "fan-in:2"));
        Assert.True(result.ExitCode == 0, result.ToString());
        var draws = ParquetDrawReader.Read(Path.Combine(runDir, "draws.parquet"));
        Assert.DoesNotContain(draws.ColumnNames, c => c.StartsWith("scale[", StringComparison.Ordinal));
        Assert.Contains("sigma", draws.ColumnNames);
        var record = RunRecord.Parse(File.ReadAllText(Path.Combine(runDir, "run.json")), "run.json");
        Assert.Equal("fan-in", record.Settings.PriorScaling);
        Assert.Equal(2.0, record.Settings.PriorScale);
        Assert.Equal("normal(0,0.632456)", record.Settings.ParameterPriors!["4.weight"]); // [1,10]: 2/√10
    }

    [Fact]
    public void Student_t_and_laplace_overrides_run_and_are_recorded()
    {
        using var dir = new TempDir();
        string runDir = dir["run"];
        var result = InProcessCli.Run(BlogMlp(runDir, "--prior", "0.weight=student_t(3,0,0.5)", "--prior", "*.bias=laplace(0,0.2)"));
        Assert.True(result.ExitCode == 0, result.ToString());
        var record = RunRecord.Parse(File.ReadAllText(Path.Combine(runDir, "run.json")), "run.json");
        Assert.Equal("student_t(3,0,0.5)", record.Settings.ParameterPriors!["0.weight"]);
        Assert.Equal("laplace(0,0.2)", record.Settings.ParameterPriors["2.bias"]);
        Assert.Equal("normal(0,1)", record.Settings.ParameterPriors["2.weight"]);
    }

    [Theory]
    [InlineData("0.weight=student_t(0,0,1)")]
    [InlineData("0.weight=laplace(0)")]
    [InlineData("0.weight=cauchy(0,1)")]
    public void Bad_prior_family_exits_2_with_one_line(string value)
    {
        using var dir = new TempDir();
        var result = BnnProcess.Run(BlogMlp(dir["run"], "--prior", value));
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.False(result.HasStackTrace, result.ToString());
        var line = Assert.Single(result.ErrorLines);
        Assert.Contains("--prior", line);
        Assert.Contains(value, line);
        Assert.False(Directory.Exists(dir["run"]));
    }

    [Theory]
    [InlineData("banana")]
    [InlineData("-1")]
    [InlineData("fan-in:-2")]
    [InlineData("hierarchical:0")]
    public void Bad_prior_scale_exits_2_with_one_line(string value)
    {
        using var dir = new TempDir();
        var result = BnnProcess.Run(BlogMlp(dir["run"], "--prior-scale", value));
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.False(result.HasStackTrace, result.ToString());
        var line = Assert.Single(result.ErrorLines);
        Assert.Contains("--prior-scale", line);
        Assert.Contains(value, line);
        Assert.False(Directory.Exists(dir["run"]));
    }
}
