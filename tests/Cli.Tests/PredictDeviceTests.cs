using System.Globalization;
using Bnn.Onnx.Export;
using Bnn.Onnx.Tests.TestSupport;

namespace Bnn.Onnx.Tests;

/// <summary>
/// <c>bnn predict --device cuda</c>: the default build (ONNX Runtime's CPU package) refuses it on one line naming the
/// build switch; the GPU build (<c>-p:BnnOnnxRuntime=gpu</c>) refuses it on one line where the machine has no GPU or
/// no CUDA libraries, and where it has them predicts what the CPU provider predicts.
/// </summary>
public class PredictDeviceTests
{
    private readonly LinregSampleFixture run = LinregSampleFixture.Instance;

    [Fact]
    public void Predict_on_cuda_runs_or_exits_2_with_one_line_that_says_why()
    {
        Assert.Equal(0, run.Result.ExitCode);
        using var dir = new TempDir();
        string ensemble = dir["ensemble.onnx"];
        var export = BnnProcess.Run("export", run.RunDir, "--members", "40", "--out", ensemble);
        Assert.True(export.ExitCode == 0, export.ToString());
        double[] xs = [-1, 0, 0.5, 2];
        string input = dir.Write("x.csv", string.Join('\n', xs.Select(x => x.ToString("R", CultureInfo.InvariantCulture))) + "\n");

        var cpu = BnnProcess.Run("predict", ensemble, "--input", input, "--out", dir["cpu.csv"], "--device", "cpu");
        Assert.True(cpu.ExitCode == 0, cpu.ToString());
        var cuda = BnnProcess.Run("predict", ensemble, "--input", input, "--out", dir["cuda.csv"], "--device", "cuda");

        if (!EnsembleSession.GpuBuild)
        {
            Assert.True(cuda.ExitCode == 2, cuda.ToString());
            Assert.False(cuda.HasStackTrace, cuda.ToString());
            string line = Assert.Single(cuda.ErrorLines);
            Assert.StartsWith("error: --device cuda: this build uses ONNX Runtime's CPU package", line);
            Assert.Contains("-p:BnnOnnxRuntime=gpu", line);
            Assert.False(File.Exists(dir["cuda.csv"]));
            return;
        }

        if (cuda.ExitCode != 0)
        {
            // The GPU build on a machine without a GPU or without CUDA: bad input for this machine, one line, exit 2.
            Assert.True(cuda.ExitCode == 2, cuda.ToString());
            Assert.False(cuda.HasStackTrace, cuda.ToString());
            string line = Assert.Single(cuda.ErrorLines);
            Assert.StartsWith("error: --device cuda: ONNX Runtime's CUDA execution provider cannot", line);
            Assert.Contains("--device cpu", line);
            Assert.False(File.Exists(dir["cuda.csv"]));
            return;
        }

        // A working GPU: the same predictions as the CPU provider (float32 ensemble).
        var onCpu = CsvTable.Read(dir["cpu.csv"]);
        var onCuda = CsvTable.Read(dir["cuda.csv"]);
        Assert.Equal(onCpu.Header, onCuda.Header);
        foreach (var column in onCpu.Header)
        {
            var a = onCpu.Column(column);
            var b = onCuda.Column(column);
            for (int i = 0; i < xs.Length; i++) Assert.Equal(a[i], b[i], 1e-4);
        }
    }

    [Fact]
    public void An_unknown_device_is_bad_input()
    {
        using var dir = new TempDir();
        string input = dir.Write("x.csv", "0\n");
        var result = InProcessCli.Run(["predict", dir["missing.onnx"], "--input", input, "--device", "tpu"]);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("--device 'tpu': expected cpu or cuda", Assert.Single(result.ErrorLines));
    }
}
