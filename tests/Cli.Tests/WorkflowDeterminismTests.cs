using Bnn.Onnx.Export;
using Bnn.Onnx.Tests.TestSupport;

namespace Bnn.Onnx.Tests;

/// <summary>Same seed, same draws: byte-identical <c>summary.csv</c> and identical Parquet data whatever the thread count.</summary>
public class WorkflowDeterminismTests
{
    [Fact]
    public void Same_seed_gives_identical_outputs_with_one_or_two_chains_at_a_time()
    {
        using var dir = new TempDir();
        // Same arguments (absolute model and data paths, a relative --out) from different working directories, so
        // even the command line stored in the draws file's metadata is the same.
        CliResult Run(string cwd, string parallel)
        {
            Directory.CreateDirectory(dir[cwd]);
            return BnnProcess.RunIn(dir[cwd], [.. Runs.LinregArgs("run", seed: 42), "--parallel-chains", parallel]);
        }

        var a = Run("a", "2");
        var b = Run("b", "2");
        var c = Run("c", "1");
        Assert.True(a.ExitCode == 0, a.ToString());
        Assert.True(b.ExitCode == 0, b.ToString());
        Assert.True(c.ExitCode == 0, c.ToString());

        string Summary(string cwd) => File.ReadAllText(Path.Combine(dir[cwd], "run", "summary.csv"));
        string Draws(string cwd) => Path.Combine(dir[cwd], "run", "draws.parquet");

        Assert.Equal(Summary("a"), Summary("b"));
        Assert.Equal(Summary("a"), Summary("c"));
        // The writer's bytes depend only on the draws and the metadata: identical runs give identical files.
        Assert.Equal(File.ReadAllBytes(Draws("a")), File.ReadAllBytes(Draws("b")));

        var two = ParquetDrawReader.Read(Draws("a"));
        var one = ParquetDrawReader.Read(Draws("c"));
        Assert.Equal(two.ColumnNames, one.ColumnNames);
        Assert.Equal(two.DrawCounts, one.DrawCounts);
        foreach (var name in two.ColumnNames)
            for (int chain = 0; chain < two.Chains; chain++)
                Assert.Equal(two.Column(name)[chain], one.Column(name)[chain]);
    }
}
