using System.Globalization;
using Bnn.Onnx.Export;
using Bnn.Onnx.Tests.TestSupport;
using Microsoft.ML.OnnxRuntime;

namespace Bnn.Onnx.Tests;

/// <summary>
/// The rest of the workflow on a sampled run: <c>bnn summary</c> reproduces the run's table, <c>bnn export</c>
/// writes an ensemble ONNX Runtime loads, and <c>bnn predict</c> gives the posterior predictive of the draws.
/// </summary>
public class WorkflowExportPredictTests
{
    private readonly LinregSampleFixture run = LinregSampleFixture.Instance;

    [Fact]
    public void Summary_command_recomputes_the_runs_parameter_rows_from_draws_parquet()
    {
        Assert.Equal(0, run.Result.ExitCode);
        var result = BnnProcess.Run("summary", run.RunDir, "--format", "csv");
        Assert.True(result.ExitCode == 0, result.ToString());

        var recomputed = CsvTable.Parse(result.Stdout);
        var saved = CsvTable.Read(Path.Combine(run.RunDir, "summary.csv"));
        Assert.Equal(saved.Header, recomputed.Header);
        foreach (var name in new[] { "weight[0,0]", "bias[0]", "sigma", "lp__" })
            foreach (var column in saved.Header.Skip(1))
                Assert.Equal(saved.Value(name, column), recomputed.Value(name, column), 1e-12);
    }

    [Fact]
    public void Summary_of_a_run_directory_reproduces_summary_csv_byte_for_byte_including_the_predictive_rows()
    {
        Assert.Equal(0, run.Result.ExitCode);
        var result = BnnProcess.Run("summary", run.RunDir, "--format", "csv");
        Assert.True(result.ExitCode == 0, result.ToString());
        string saved = File.ReadAllText(Path.Combine(run.RunDir, "summary.csv"));
        Assert.Contains("\nmu[0],", saved);
        Assert.Equal(saved, result.Stdout);
    }

    [Fact]
    public void Export_then_predict_gives_the_posterior_predictive_of_the_draws()
    {
        Assert.Equal(0, run.Result.ExitCode);
        using var dir = new TempDir();
        string ensemble = dir["ensemble.onnx"];
        var export = BnnProcess.Run("export", run.RunDir, "--members", "200", "--out", ensemble);
        Assert.True(export.ExitCode == 0, export.ToString());
        using (var session = new InferenceSession(ensemble))
            Assert.Single(session.InputMetadata);

        double[] xs = [-1.5, -0.25, 0, 0.8, 2];
        string input = dir.Write("x.csv", string.Join('\n', xs.Select(x => x.ToString("R", CultureInfo.InvariantCulture))) + "\n");
        string output = dir["p.csv"];
        var predict = BnnProcess.Run("predict", ensemble, "--input", input, "--out", output);
        Assert.True(predict.ExitCode == 0, predict.ToString());

        Assert.Equal("mean_0,std_0,lower_0,upper_0", File.ReadLines(output).First());
        var p = CsvTable.Read(output);
        Assert.Equal(xs.Length, p.Rows.Count);

        // Every draw is a member (2 chains × 100): the ensemble's mean and sd over members are the draws' own.
        var draws = ParquetDrawReader.Read(Path.Combine(run.RunDir, "draws.parquet"));
        var w = draws.Column("weight[0,0]").SelectMany(c => c).ToArray();
        var b = draws.Column("bias[0]").SelectMany(c => c).ToArray();
        var sigma = draws.Column("sigma").SelectMany(c => c).ToArray();
        var mean = p.Column("mean_0");
        var std = p.Column("std_0");
        var lower = p.Column("lower_0");
        var upper = p.Column("upper_0");
        for (int i = 0; i < xs.Length; i++)
        {
            var mu = w.Zip(b, (wi, bi) => wi * xs[i] + bi).ToArray();
            double m = mu.Average();
            double sd = Math.Sqrt(mu.Sum(v => (v - m) * (v - m)) / mu.Length);
            Assert.Equal(m, mean[i], 1e-4); // float32 ensemble

            // The predictive sd includes the noise: sqrt(E[σ²] + Var[μ]); the 90% interval is about mean ± 1.645 of it.
            double spread = Math.Sqrt(sigma.Average(s => s * s) + sd * sd);
            Assert.Equal(spread, std[i], 1e-3 * spread);
            Assert.True(lower[i] < mean[i] && mean[i] < upper[i]);
            Assert.Equal(2 * 1.6449 * spread, upper[i] - lower[i], 0.05 * spread);
        }

        // With the default 100 members (thinned), the mean stays within Monte Carlo error of the full posterior.
        string thinned = dir["thinned.onnx"];
        Assert.Equal(0, BnnProcess.Run("export", run.RunDir, "--out", thinned).ExitCode);
        var predictThinned = BnnProcess.Run("predict", thinned, "--input", input);
        Assert.True(predictThinned.ExitCode == 0, predictThinned.ToString());
        var pt = CsvTable.Parse(predictThinned.Stdout);
        for (int i = 0; i < xs.Length; i++)
            Assert.Equal(mean[i], pt.Column("mean_0")[i], 0.05);
    }
}
