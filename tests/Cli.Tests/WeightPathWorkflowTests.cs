using System.Text.Json;
using Bnn.Onnx.Tests.TestSupport;

namespace Bnn.Onnx.Tests;

/// <summary>
/// A PyTorch export without constant folding (<c>hidden.weight → Transpose → MatMul</c>) through <c>bnn import</c> and
/// <c>bnn sample</c>: the weights under their stored names, the folded export's parameter count, the same posterior.
/// </summary>
public class WeightPathWorkflowTests
{
    private static readonly string[] Names = ["hidden.weight", "hidden.bias", "out.weight", "out.bias"];

    [Fact]
    public void Import_lists_the_stored_weights_with_the_folded_exports_count()
    {
        foreach (var (file, onnxNames) in new[]
        {
            ("step_mlp_op17_unfolded.onnx", Names),
            ("step_mlp_op17_folded.onnx", ["onnx::MatMul_15", "hidden.bias", "onnx::MatMul_16", "out.bias"]),
        })
        {
            var result = BnnProcess.Run("import", Repo.Model(file), "--json");
            Assert.True(result.ExitCode == 0, result.ToString());
            using var json = JsonDocument.Parse(result.Stdout);
            var parameters = json.RootElement.GetProperty("parameters").EnumerateArray().ToList();

            Assert.Equal(Names, parameters.Select(p => p.GetProperty("name").GetString()));
            Assert.Equal(onnxNames, parameters.Select(p => p.GetProperty("onnx_name").GetString()));
            Assert.Equal(161, json.RootElement.GetProperty("total_parameters").GetInt32());
        }
    }

    [Fact]
    public void Folded_and_unfolded_exports_sample_the_same_posterior()
    {
        using var dir = new TempDir();
        (double[] Mean, double[] Sd) Sample(string file)
        {
            string run = dir[Path.GetFileNameWithoutExtension(file)];
            string[] features = ["--features", string.Join(',', Enumerable.Range(1, 8).Select(i => $"x{i}")), "--target", "y"];
            var result = BnnProcess.Run(["sample", Repo.Model(file), "--data", Repo.Model("regression8_data.csv"), .. features,
                "--out", run, "--seed", "5", .. Runs.Short]);
            Assert.True(result.ExitCode == 0, result.ToString());
            // The predictive mean μ of each data row, over every draw of both chains.
            var predictive = CsvTable.Read(Path.Combine(run, "predictive.csv"));
            var columns = predictive.Header.Where(h => h.StartsWith("mu[", StringComparison.Ordinal)).Select(predictive.Column).ToArray();
            var mean = columns.Select(c => c.Average()).ToArray();
            var sd = columns.Select((c, i) => Math.Sqrt(c.Sum(v => (v - mean[i]) * (v - mean[i])) / (c.Length - 1))).ToArray();
            return (mean, sd);
        }

        var folded = Sample("step_mlp_op17_folded.onnx");
        var unfolded = Sample("step_mlp_op17_unfolded.onnx");

        // The chains start from different points (the prior draw fills the transposed weights in another order), so
        // the draws differ; the predictions they make must agree within the posterior's spread.
        Assert.Equal(100, folded.Mean.Length);
        for (int r = 0; r < folded.Mean.Length; r++)
        {
            double spread = Math.Sqrt(folded.Sd[r] * folded.Sd[r] + unfolded.Sd[r] * unfolded.Sd[r]);
            Assert.True(Math.Abs(folded.Mean[r] - unfolded.Mean[r]) <= spread,
                $"row {r}: predictive mean {folded.Mean[r]:R} (folded), {unfolded.Mean[r]:R} (unfolded), spread {spread:R}");
        }
    }
}
