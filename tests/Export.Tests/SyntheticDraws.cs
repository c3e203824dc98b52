using Bnn.Onnx.Export;
using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Tests;

/// <summary>Layouts and draws for the draws-file tests: deterministic, and awkward enough to catch lossy round trips.</summary>
internal static class SyntheticDraws
{
    /// <summary>10 scalars: a 3×2 weight, 3 biases, σ.</summary>
    public static ParameterLayout SmallLayout() => ParameterLayout.FromShapes(
    [
        ("0.weight", [3, 2], BlockTransform.Identity, "0.weight"),
        ("0.bias", [3], BlockTransform.Identity, "0.bias"),
        ("sigma", [], BlockTransform.Log, null),
    ]);

    /// <summary>A deterministic, awkward draw: values that would not survive a float round trip.</summary>
    public static (SamplerStats Stats, double[] Values) MakeDraw(int chain, int draw, int dimension)
    {
        var rng = new Random(chain * 100_003 + draw);
        var values = new double[dimension];
        for (int j = 0; j < dimension; j++) values[j] = (rng.NextDouble() - 0.5) * Math.Pow(10, rng.Next(-8, 8));
        values[^1] = Math.Abs(values[^1]) + 1e-300;
        var stats = new SamplerStats(-rng.NextDouble() * 1e3, rng.NextDouble(), 0.01 + rng.NextDouble(), rng.Next(0, 11),
            rng.Next(1, 1024), rng.Next(5) == 0, rng.NextDouble() * 1e3);
        return (stats, values);
    }

    /// <summary>The table holds exactly <paramref name="drawCounts"/> draws per chain, each equal to <see cref="MakeDraw"/>.</summary>
    public static void AssertHolds(DrawsTable table, int[] drawCounts, int dimension)
    {
        Assert.Equal(drawCounts, table.DrawCounts);
        for (int c = 0; c < drawCounts.Length; c++)
            for (int i = 0; i < drawCounts[c]; i++)
            {
                var (stats, values) = MakeDraw(c, i, dimension);
                Assert.Equal(stats, table.Stats(c, i));
                Assert.Equal(values, table.Draw(c, i)); // exact: doubles round-trip bit for bit
            }
    }
}
