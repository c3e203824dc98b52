using Bnn.Onnx.Export;
using Bnn.Onnx.Tests.TestSupport;

namespace Bnn.Onnx.Tests;

/// <summary>
/// <c>bnn sample</c> with the bernoulli and categorical likelihoods on the classification fixtures: the run completes
/// and its predictive mean classifies the training data about as well as the trained network does.
/// </summary>
public class WorkflowClassificationTests
{
    [Fact]
    public void Bernoulli_on_a_logit_network()
    {
        using var dir = new TempDir();
        string runDir = dir["run"];
        var result = BnnProcess.Run(["sample", Repo.Model("binary_logit_pytorch.onnx"), "--data", Repo.Model("binary_data.csv"),
            "--likelihood", "bernoulli", "--out", runDir, "--seed", "11", "--init", "onnx", .. Runs.Short]);
        Assert.True(result.ExitCode == 0, result.ToString());

        var data = CsvTable.Read(Repo.Model("binary_data.csv"));
        var labels = data.Column("y");
        var summary = CsvTable.Read(Path.Combine(runDir, "summary.csv"));
        var draws = ParquetDrawReader.Read(Path.Combine(runDir, "draws.parquet"));

        // 33 weights, no sigma (features default to every column but the last).
        Assert.Equal(7 + 33, draws.ColumnNames.Count);
        Assert.DoesNotContain("sigma", summary.Keys);
        Assert.Equal(["hidden.weight[0,0]", "hidden.weight[0,1]"], summary.Keys.Take(2));
        using (var json = Runs.ReadRunJson(runDir))
        {
            Assert.Equal(["x1", "x2"], json.RootElement.GetProperty("features").EnumerateArray().Select(e => e.GetString()));
            Assert.Equal("bernoulli", json.RootElement.GetProperty("settings").GetProperty("likelihood").GetString());
        }

        // mu[i] is the posterior mean logit at row i.
        var logits = Enumerable.Range(0, labels.Length).Select(i => summary.Value($"mu[{i}]", "mean")).ToArray();
        double accuracy = logits.Zip(labels, (z, y) => (z > 0 ? 1.0 : 0.0) == y ? 1.0 : 0.0).Average();
        Assert.True(accuracy >= 0.75, $"training accuracy of the posterior mean logit {accuracy:F2}");
    }

    [Theory]
    [InlineData("multiclass_logits_pytorch.onnx", false)]
    [InlineData("multiclass_softmax_pytorch.onnx", true)]
    public void Categorical_on_logits_or_softmax_outputs(string model, bool probabilities)
    {
        using var dir = new TempDir();
        string runDir = dir["run"];
        var result = BnnProcess.Run(["sample", Repo.Model(model), "--data", Repo.Model("multiclass_data.csv"), "--target", "y",
            "--likelihood", "categorical", "--out", runDir, "--seed", "12", "--init", "onnx", .. Runs.Short]);
        Assert.True(result.ExitCode == 0, result.ToString());

        var labels = CsvTable.Read(Repo.Model("multiclass_data.csv")).Column("y");
        var summary = CsvTable.Read(Path.Combine(runDir, "summary.csv"));
        Assert.DoesNotContain("sigma", summary.Keys);
        Assert.Equal(131 + 1 + labels.Length * 3, summary.Rows.Count);

        int correct = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            var mu = Enumerable.Range(0, 3).Select(k => summary.Value($"mu[{i},{k}]", "mean")).ToArray();
            if (probabilities)
            {
                Assert.All(mu, p => Assert.InRange(p, 0.0, 1.0));
                Assert.Equal(1.0, mu.Sum(), 1e-6);
            }
            if (Array.IndexOf(mu, mu.Max()) == (int)labels[i]) correct++;
        }
        Assert.True(correct >= 0.9 * labels.Length, $"{correct} of {labels.Length} rows classified correctly");
    }
}
