using Bnn.Onnx.Tests.TestSupport;

namespace Bnn.Onnx.Tests;

/// <summary>A run in which nearly every transition diverges ends with a diagnosis and a non-zero exit.</summary>
public class RobustnessFailedSamplingTests
{
    [Fact]
    public void GivenAWarmupTooShortToAdapt_WhenSampled_ThenExitCode3WithADiagnosisAndTheOutputsWritten()
    {
        using var dir = new TempDir();
        string outDir = dir["run"];
        // Ten warmup iterations from a prior draw leave the blog network's step size far too large: the
        // trajectories diverge at almost every transition.
        var result = BnnProcess.Run("sample", Repo.Model("blog_mlp_pytorch.onnx"), "--data", Repo.Model("blog_data.csv"),
            "--features", "x", "--target", "y", "--chains", "2", "--warmup", "3", "--draws", "100", "--seed", "5",
            "--init", "uniform", "--no-progress", "--out", outDir);

        if (result.ExitCode == 0)
        {
            // Not every seed fails; this one must, or the test would prove nothing.
            Assert.Fail($"expected a failed run, got exit 0:\n{result.Stdout}");
        }
        Assert.Equal(3, result.ExitCode);
        var errorLines = result.Stderr.Split('\n').Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToList();
        Assert.Single(errorLines);
        Assert.Contains("sampling failed", errorLines[0]);
        Assert.Contains("transitions diverged", errorLines[0]);
        Assert.DoesNotContain("   at ", result.Stderr);
        Assert.True(File.Exists(Path.Combine(outDir, "draws.parquet")));
        Assert.True(File.Exists(Path.Combine(outDir, "summary.csv")));
        Assert.True(File.Exists(Path.Combine(outDir, "run.json")));
    }
}
