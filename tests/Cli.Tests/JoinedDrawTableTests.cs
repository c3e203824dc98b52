using Bnn.Onnx.Cli;
using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Tests;

/// <summary>The run directory's draws joined with its predictive draws, for <c>bnn summary RUN_DIR</c>.</summary>
public class JoinedDrawTableTests
{
    /// <summary>A table whose <c>w</c> column is thinned (every 2nd draw) while it reports the full draw count.</summary>
    private sealed class ThinnedParameters : IDrawTable
    {
        public IReadOnlyList<string> Variables => ["w", "lp__"];
        public int Chains => 2;
        public int DrawsPerChain => 6;

        public double[][] Column(string variable) => variable == "w"
            ? [[0, 2, 4], [10, 12, 14]]
            : [[0, 1, 2, 3, 4, 5], [10, 11, 12, 13, 14, 15]];
    }

    [Fact]
    public void Given_thinned_parameter_columns_When_joined_Then_they_are_returned_whole_and_longer_columns_are_cut()
    {
        var predictive = new InMemoryDrawTable(["mu[0]"], [[[1, 1, 1, 1, 1, 1, 1], [2, 2, 2, 2, 2, 2, 2]]]);
        var joined = new JoinedDrawTable(new ThinnedParameters(), predictive);

        Assert.Equal(["w", "lp__", "mu[0]"], joined.Variables);
        Assert.Equal(6, joined.DrawsPerChain);
        Assert.Equal([0.0, 2, 4], joined.Column("w")[0]);
        Assert.Equal(6, joined.Column("lp__")[1].Length);
        Assert.Equal(6, joined.Column("mu[0]")[0].Length); // the predictive file's 7th draw is cut
    }

    [Fact]
    public void Given_tables_with_different_chain_counts_Then_joining_is_refused()
    {
        var predictive = new InMemoryDrawTable(["mu[0]"], [[[1.0, 2.0]]]);
        Assert.Throws<InvalidDataException>(() => new JoinedDrawTable(new ThinnedParameters(), predictive));
    }
}
