using Bnn.Onnx.Tests.TestSupport;

namespace Bnn.Onnx.Tests;

/// <summary>The TorchSharp backend from the command line, and a clear refusal of a GPU this build cannot use.</summary>
public class WorkflowBackendTests
{
    [Fact]
    public void Torch_backend_samples_the_linear_regression()
    {
        using var dir = new TempDir();
        string runDir = dir["run"];
        var result = Runs.SampleLinreg(runDir, seed: 21, "--backend", "torch");
        Assert.True(result.ExitCode == 0, result.ToString());

        using var json = Runs.ReadRunJson(runDir);
        Assert.Equal("torch", json.RootElement.GetProperty("backend").GetString());
        var summary = CsvTable.Read(Path.Combine(runDir, "summary.csv"));
        Assert.InRange(summary.Value("weight[0,0]", "mean"), 1.24 - 0.05, 1.24 + 0.05);
        Assert.InRange(summary.Value("bias[0]", "mean"), 0.29 - 0.03, 0.29 + 0.03);
        Assert.InRange(summary.Value("sigma", "mean"), 0.34 - 0.02, 0.34 + 0.02);
    }

    [Theory]
    [InlineData("torch", "cuda")]
    [InlineData("auto", "cuda")]
    [InlineData("cpu", "cpu backend")]
    public void Device_cuda_without_a_usable_GPU_exits_2_with_one_line(string backend, string expected)
    {
        using var dir = new TempDir();
        var result = InProcessCli.Run([.. Runs.LinregArgs(dir["run"], seed: 1), "--backend", backend, "--device", "cuda"]);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.False(result.HasStackTrace, result.ToString());
        var line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("error: --device cuda", line);
        Assert.Contains(expected, line);
        Assert.False(Directory.Exists(dir["run"]));
    }
}
