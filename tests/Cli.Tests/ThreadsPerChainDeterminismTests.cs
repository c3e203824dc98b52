using System.Globalization;
using System.Text;
using Bnn.Onnx.Export;
using Bnn.Onnx.Tests.TestSupport;

namespace Bnn.Onnx.Tests;

/// <summary><c>--threads-per-chain</c>: the gradient's row shards are fixed by the data, so the draws do not depend on it.</summary>
public class ThreadsPerChainDeterminismTests
{
    /// <summary>
    /// Given 500 rows (three blocks of rows, so two threads really share a chain's gradient) and one seed, when the
    /// blog's network is sampled with 1 and with 2 threads per chain (from the trained weights, so that the short
    /// warmup adapts a usable step size whatever the last bits of the kernels), then summary.csv is byte-identical,
    /// every draw in draws.parquet is the same bits and run.json records the thread count.
    /// </summary>
    [Fact]
    public void Same_seed_gives_the_same_draws_with_one_or_two_threads_per_chain()
    {
        using var dir = new TempDir();
        var rng = new Random(5);
        var csv = new StringBuilder("x,y\n");
        for (int i = 0; i < 500; i++)
        {
            double x = -1 + 2.0 * i / 499;
            double y = 0.3 + Math.Sin(2 * Math.PI * x / 2.5) + 0.2 * (rng.NextDouble() - 0.5);
            csv.Append(CultureInfo.InvariantCulture, $"{x:R},{y:R}\n");
        }
        string data = dir.Write("data.csv", csv.ToString());

        CliResult Run(string name, string threads) => BnnProcess.Run(["sample", Repo.Model("blog_mlp_pytorch.onnx"), "--data", data,
            "--features", "x", "--target", "y", "--out", dir[name], "--seed", "7", "--chains", "1", "--warmup", "60", "--draws", "40",
            "--max-depth", "6", "--init", "onnx", "--backend", "cpu", "--no-progress", "--threads-per-chain", threads]);

        var one = Run("one", "1");
        var two = Run("two", "2");
        Assert.True(one.ExitCode == 0, one.ToString());
        Assert.True(two.ExitCode == 0, two.ToString());

        Assert.Equal(File.ReadAllText(Path.Combine(dir["one"], "summary.csv")), File.ReadAllText(Path.Combine(dir["two"], "summary.csv")));
        var a = ParquetDrawReader.Read(Path.Combine(dir["one"], "draws.parquet"));
        var b = ParquetDrawReader.Read(Path.Combine(dir["two"], "draws.parquet"));
        Assert.Equal(a.ColumnNames, b.ColumnNames);
        foreach (var name in a.ColumnNames)
            Assert.Equal(a.Column(name)[0].Select(BitConverter.DoubleToInt64Bits), b.Column(name)[0].Select(BitConverter.DoubleToInt64Bits));
        Assert.True(a.Column(a.ColumnNames[^1])[0].Distinct().Count() > 5, "the chain moved");

        using var record = Runs.ReadRunJson(dir["two"]);
        Assert.Equal(2, record.RootElement.GetProperty("threads_per_chain").GetInt32());
    }
}
